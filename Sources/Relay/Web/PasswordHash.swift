import Crypto
import Foundation
import _CryptoExtras

/// Password hashes for clinician accounts: scrypt (memory-hard) with a per-account random salt,
/// kept as `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` (base64) so the cost can be raised later
/// without invalidating the hashes already stored.
public enum PasswordHash {
    /// The cost of new hashes: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s on a server core).
    public static let defaultCost = Cost(log2N: 15, blockSize: 8, parallelism: 1)

    /// scrypt's parameters.
    public struct Cost: Sendable, Hashable {
        public var log2N: Int
        public var blockSize: Int
        public var parallelism: Int

        /// A cost.
        public init(log2N: Int, blockSize: Int, parallelism: Int) {
            self.log2N = log2N
            self.blockSize = blockSize
            self.parallelism = parallelism
        }
    }

    /// The shortest password an account may have.
    public static let minimumLength = 10

    /// Hashes `password` with a fresh salt.
    public static func make(_ password: String, cost: Cost = defaultCost) throws -> String {
        let salt = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }
        let hash = try derive(password, salt: salt, cost: cost)
        return "scrypt$\(cost.log2N)$\(cost.blockSize)$\(cost.parallelism)$\(salt.base64EncodedString())$\(hash.base64EncodedString())"
    }

    /// Whether `password` matches `stored` (compared in constant time). A malformed stored
    /// hash matches nothing.
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "scrypt", let log2N = Int(parts[1]), let blockSize = Int(parts[2]), let parallelism = Int(parts[3]),
              (10...20).contains(log2N), (1...16).contains(blockSize), (1...4).contains(parallelism),
              let salt = Data(base64Encoded: String(parts[4])), let expected = Data(base64Encoded: String(parts[5])), expected.count == 32,
              let actual = try? derive(password, salt: salt, cost: Cost(log2N: log2N, blockSize: blockSize, parallelism: parallelism))
        else { return false }
        return constantTimeEqual(actual, expected)
    }

    /// A hash of a password nobody has, to verify against when there is no such account, so
    /// that a sign-in for an unknown address takes as long as one for a known address.
    public static let decoy: String = (try? make(UUID().uuidString)) ?? ""

    private static func derive(_ password: String, salt: Data, cost: Cost) throws -> Data {
        let key = try KDF.Scrypt.deriveKey(
            from: Data(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << cost.log2N, blockSize: cost.blockSize,
            parallelism: cost.parallelism)
        return key.withUnsafeBytes { Data($0) }
    }

    private static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
