import AWSSigning
import Foundation

/// A kiosk's device token: `hh1.<device id>.<secret>`. The secret is 32 random bytes
/// (base64url); the relay keeps only its SHA-256, finds the device by id and compares the
/// hashes in constant time. The token is shown once, when the device is added.
public struct DeviceToken: Sendable, Hashable {
    /// The device the token belongs to.
    public var deviceID: String
    /// The secret part.
    public var secret: String

    /// A new token for `deviceID` with a fresh random secret.
    public static func mint(deviceID: String) -> DeviceToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return DeviceToken(deviceID: deviceID, secret: base64URL(Data(bytes)))
    }

    /// Parses the text of a token; `nil` when it is not one.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "hh1", !parts[1].isEmpty, parts[2].count == 43 else { return nil }
        deviceID = String(parts[1])
        secret = String(parts[2])
    }

    init(deviceID: String, secret: String) {
        self.deviceID = deviceID
        self.secret = secret
    }

    /// The token as the kiosk sends it.
    public var text: String { "hh1.\(deviceID).\(secret)" }

    /// The stored form: SHA-256 of the secret, hex.
    public var secretHash: String { Self.hash(secret) }

    /// SHA-256 of `secret`, hex.
    static func hash(_ secret: String) -> String {
        sha256Hex(Data(secret.utf8))
    }

    /// Whether this token's secret hashes to `storedHash`, compared in constant time.
    public func matches(storedHash: String) -> Bool {
        let a = Array(secretHash.utf8), b = Array(storedHash.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    private static func base64URL(_ data: Data) -> String {
        String(data.base64EncodedString().compactMap { character -> Character? in
            switch character {
            case "+": "-"
            case "/": "_"
            case "=": nil
            default: character
            }
        })
    }
}

/// Lower-case hex SHA-256 of `bytes` (session digests, token hashes): the same function as
/// SigV4's payload hash.
func sha256Hex<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
    SigV4Encoding.payloadHash(bytes)
}
