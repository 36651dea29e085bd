import Foundation

/// When to try a failed delivery again: exponential backoff with jitter, and the relay's
/// `Retry-After` honoured when it gives one.
public struct RetryPolicy: Sendable, Hashable {
    /// The delay after the first failure, seconds.
    public var initialDelay: Double = 1
    /// The longest delay between attempts, seconds.
    public var maximumDelay: Double = 300
    /// The growth factor per failed attempt.
    public var multiplier: Double = 2
    /// The longest `Retry-After` obeyed, seconds (a relay asking for more is capped).
    public var maximumRetryAfter: Double = 3600

    /// The default policy.
    public init() {}

    /// The delay before attempt `failures + 1`, after `failures` failed attempts (≥ 1).
    ///
    /// "Equal jitter": half of the exponential step is fixed and half random, so delays grow
    /// with every failure while kiosks that failed together spread out. `random` returns a
    /// value in `0..<1`.
    public func delay(afterFailures failures: Int, random: () -> Double) -> Double {
        let exponent = Double(max(0, failures - 1))
        let step = min(maximumDelay, initialDelay * pow(multiplier, exponent))
        return step / 2 + step / 2 * random()
    }

    /// The delay to wait when the relay answered with `Retry-After: retryAfter` seconds
    /// (`nil` when absent or unreadable): the relay's own figure, capped, when it gave one,
    /// else the backoff.
    public func delay(afterFailures failures: Int, retryAfter: Double?, random: () -> Double) -> Double {
        guard let retryAfter else { return delay(afterFailures: failures, random: random) }
        return min(maximumRetryAfter, max(retryAfter, 0))
    }

    /// Parses an HTTP `Retry-After` value: delta-seconds or an HTTP date (RFC 9110 §10.2.3),
    /// as seconds from `now`. `nil` when the value is neither.
    public static func parseRetryAfter(_ value: String, now: Date) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return Double(seconds) }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) { return max(0, date.timeIntervalSince(now)) }
        }
        return nil
    }
}

/// What to do with a session after the relay answered an upload.
public enum DeliveryDecision: Sendable, Hashable {
    /// Stored by the relay (now or on an earlier attempt): delete it here.
    case delivered
    /// Try again later; `retryAfter` is the relay's own figure, seconds, when it gave one.
    case retry(reason: String, retryAfter: Double?)
    /// The relay refuses this session and would refuse it again: set it aside with the reason.
    case reject(reason: String)

    /// Classifies a relay response by status code.
    ///
    /// 2xx is delivered. 408, 425, 429 and 5xx are passing conditions. 401 (token) and 404
    /// (wrong URL) are the kiosk's configuration, not the session's fault: retried, so that
    /// fixing the enrolment delivers everything. Any other 4xx (400 malformed, 403 another
    /// clinic's id, 409 a different document under this id, 413 too large, 422) is a property
    /// of the session itself: rejected.
    public static func classify(status: Int, retryAfter: Double?, message: String) -> DeliveryDecision {
        let reason = message.isEmpty ? "HTTP \(status)" : "HTTP \(status): \(message)"
        switch status {
        case 200..<300: return .delivered
        case 408, 425, 429, 500..<600: return .retry(reason: reason, retryAfter: status == 429 || status == 503 ? retryAfter : nil)
        case 401, 404: return .retry(reason: reason, retryAfter: nil)
        case 400..<500: return .reject(reason: reason)
        default: return .retry(reason: reason, retryAfter: nil)
        }
    }
}
