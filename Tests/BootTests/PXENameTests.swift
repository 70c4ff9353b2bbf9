import Drivers
import Testing

/// MAC spellings map to the PXE file name and back; anything else is refused.
struct PXENameTests {
    @Test(arguments: ["52:54:00:AA:00:01", "52-54-00-aa-00-01", "01-52-54-00-aa-00-01", "525400aa0001",
                      "01525400aa0001", "01-52-54-00-AA-00-01.ipxe"])
    func acceptedSpellings(text: String) {
        #expect(PXEName.from(text) == "01-52-54-00-aa-00-01")
        #expect(PXEName.colonForm(text) == "52:54:00:aa:00:01")
    }

    @Test(arguments: ["", "52:54:00:aa:00", "52:54:00:aa:00:01:02", "5:254:00:aa:00:01", "52:54:00:aa:00:0g",
                      "02-52-54-00-aa-00-01", "../etc/passwd", "52:54-00:aa:00:01x"])
    func refusedSpellings(text: String) {
        #expect(PXEName.from(text) == nil)
    }
}
