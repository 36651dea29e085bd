import Crypto
import Foundation
import Synchronization

/// Random tokens for cookies and forms: 32 random bytes, base64url.
enum WebToken {
    static func make() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// What the store keeps of a session cookie's secret.
    static func hash(_ token: String) -> String { sha256Hex(Data(token.utf8)) }

    /// Whether two tokens are equal, in time independent of where they differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for (p, q) in zip(x, y) { difference |= p ^ q }
        return difference == 0
    }
}

/// Throttles sign-in after repeated failures: per account and per client address, at most
/// `limit` failures in `window`; then sign-in is refused (without checking the password)
/// until the oldest failure leaves the window. A success clears the account's failures.
/// Held per relay instance.
public final class SignInThrottle: Sendable {
    private let limit: Int
    private let window: Duration
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])

    /// A throttle allowing `limit` failures per key in `window`.
    public init(limit: Int = 5, window: Duration = .seconds(15 * 60)) {
        self.limit = limit
        self.window = window
    }

    /// How long the keys must wait before trying again, or nil when they may try now.
    public func wait(for keys: [String], now: ContinuousClock.Instant = .now) -> Duration? {
        failures.withLock { failures in
            var longest: Duration?
            for key in keys {
                let recent = (failures[key] ?? []).filter { now - $0 < window }
                failures[key] = recent.isEmpty ? nil : recent
                if recent.count >= limit, let oldest = recent.first {
                    let wait = window - (now - oldest)
                    longest = max(longest ?? wait, wait)
                }
            }
            return longest
        }
    }

    /// Records a failed sign-in for each key.
    public func fail(_ keys: [String], now: ContinuousClock.Instant = .now) {
        failures.withLock { failures in
            for key in keys { failures[key, default: []].append(now) }
            // Bound the memory an attacker can make us hold: forget the stalest keys.
            if failures.count > 100_000 { failures = failures.filter { now - ($0.value.last ?? now) < window } }
        }
    }

    /// Clears the failures of `key` (the account, after a good password).
    public func succeed(_ key: String) {
        failures.withLock { _ = $0.removeValue(forKey: key) }
    }
}

/// The fields of an `application/x-www-form-urlencoded` body.
struct FormFields {
    private var values: [String: String] = [:]

    init(_ body: String) {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) ?? "" : ""
            // The first of a repeated field wins.
            if values[name] == nil { values[name] = value }
        }
    }

    subscript(name: String) -> String? { values[name] }

    private static func decode(_ part: Substring) -> String? {
        part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

/// Where a sign-in may send the browser after it: only a path of this site (never
/// `//host` or a scheme), else the visits list.
enum SafeRedirect {
    static func path(_ candidate: String?) -> String {
        guard let candidate, candidate.hasPrefix("/"), !candidate.hasPrefix("//"), !candidate.hasPrefix("/\\"),
              !candidate.contains(where: { $0.isNewline || $0 == "\\" }), candidate.count < 512
        else { return "/sessions" }
        return candidate
    }
}
