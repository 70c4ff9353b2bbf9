import Foundation
import ReconcilerModel

/// The Site's `decommission` field: what a prune does to a leaving node's disks.
extension DocumentDecoder {
    /// `decommission: {erase: none|quick|full, kernel: installer/vmlinuz, initrd: installer/initramfs.img,
    /// kernelArgs: [console=ttyS0]}`; kernel and initrd come together or not at all.
    mutating func decodeDecommission(_ node: YAMLNode) -> DecommissionSettings? {
        guard let reader = fields.mapping(node, "decommission", known: ["erase", "kernel", "initrd", "kernelArgs"])
        else { return nil }
        var settings = DecommissionSettings.keepDisks
        if let value = reader.value("erase") {
            guard let erase: DecommissionSettings.Erase = fields.enumeration(value, "decommission.erase") else {
                return nil
            }
            settings.erase = erase
        }
        settings.kernel = reader.value("kernel").flatMap { fields.string($0, "decommission.kernel") }
        settings.initrd = reader.value("initrd").flatMap { fields.string($0, "decommission.initrd") }
        if let args = reader.value("kernelArgs") {
            settings.kernelArgs = (fields.stringList(args, "decommission.kernelArgs") ?? []).map(\.value)
        }
        if (settings.kernel == nil) != (settings.initrd == nil) {
            let missing = settings.kernel == nil ? "an initrd without a kernel" : "a kernel without an initrd"
            fields.error(reader.value("kernel") ?? reader.value("initrd") ?? node, "decommission names \(missing)",
                         hint: "name both (the install environment's files), or neither to use the first image's")
            return nil
        }
        return settings
    }
}
