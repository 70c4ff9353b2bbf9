import Foundation
import RackswarmCore
import Testing

/// Reading a secret from the process environment (one variable by name) or from a file.
struct SecretReferenceTests {
    @Test func anEnvironmentVariableIsReadFromTheProcess() throws {
        let name = "RACKSWARM_TEST_SECRET_\(getpid())"
        setenv(name, "s3cret value", 1)
        defer { unsetenv(name) }
        #expect(try SecretReference.environment(name).resolve() == "s3cret value")
        #expect(try SecretReference.environment(name).resolve(environment: [name: "given"]) == "given")
    }

    @Test func aMissingOrEmptyVariableIsNamedNeverValued() {
        let name = "RACKSWARM_TEST_UNSET_\(getpid())"
        unsetenv(name)
        let missing = #expect(throws: SecretError.self) { try SecretReference.environment(name).resolve() }
        #expect(missing?.code == .missingEnvironmentVariable)
        #expect(missing?.description == "secret env:\(name): environment variable is not set or empty")
        setenv(name, "", 1)
        defer { unsetenv(name) }
        let empty = #expect(throws: SecretError.self) { try SecretReference.environment(name).resolve() }
        #expect(empty?.code == .missingEnvironmentVariable)
    }

    @Test func aFileLosesItsTrailingNewline() throws {
        let path = NSTemporaryDirectory() + "rackswarm-secret-\(getpid())"
        try "from a file\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try SecretReference.file(path).resolve() == "from a file")
    }
}
