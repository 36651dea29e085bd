/// Identifiers made on this machine (session, turn and clinic ids): random UUIDs (version 4)
/// from the kernel's random source.
///
/// Foundation's `UUID()` reads `/dev/urandom` through a file descriptor and, when the process
/// has none left, quietly returns a constant; two sessions then share an id and the second is
/// refused as a conflict, lost. The standard library's `SystemRandomNumberGenerator` calls
/// `getrandom(2)` on Linux, which needs no descriptor and blocks only until the kernel's pool
/// is first seeded; on any other failure it stops the process rather than return predictable
/// bytes: an id that might repeat is worse than a restart, which loses nothing acknowledged.
public enum RandomID {
    /// A new lower-case UUID string, e.g. `3f2b…-4…-8…`.
    public static func uuid() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<2).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64) { Array($0) } }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
