import Reconciler
import Testing

struct VersionTests {
    @Test func versionIsSemantic() {
        #expect(ReconcilerVersion.string.split(separator: ".").count == 3)
    }
}
