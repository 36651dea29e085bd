import Foundation
import Kiosk
import Testing

@Suite struct RetryPolicyTests {
    @Test func delaysGrowExponentiallyWithinTheirJitterBoundsUpToTheCap() {
        var policy = RetryPolicy()
        policy.initialDelay = 1
        policy.maximumDelay = 60
        for failures in 1...12 {
            let step = min(60, pow(2, Double(failures - 1)))
            let low = policy.delay(afterFailures: failures) { 0 }
            let high = policy.delay(afterFailures: failures) { 0.999_999 }
            #expect(abs(low - step / 2) < 1e-9, "fixed half at failure \(failures)")
            #expect(abs(high - step) < 1e-4, "full step at failure \(failures)")
        }
        // Jitter spreads kiosks that failed together.
        var generator = SystemRandomNumberGenerator()
        let delays = (0..<200).map { _ in policy.delay(afterFailures: 5) { Double.random(in: 0..<1, using: &generator) } }
        #expect(Set(delays.map { ($0 * 10).rounded() }).count > 20)
        #expect(delays.allSatisfy { (8...16).contains($0) })
    }

    @Test func retryAfterOverridesTheBackoffAndIsCapped() {
        var policy = RetryPolicy()
        policy.maximumRetryAfter = 600
        #expect(policy.delay(afterFailures: 1, retryAfter: 120) { 0.5 } == 120)
        #expect(policy.delay(afterFailures: 9, retryAfter: 2) { 0.5 } == 2)
        #expect(policy.delay(afterFailures: 1, retryAfter: 86_400) { 0.5 } == 600)
        #expect(policy.delay(afterFailures: 1, retryAfter: nil) { 0 } == 0.5)
    }

    @Test func retryAfterParsesSecondsAndHTTPDates() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(RetryPolicy.parseRetryAfter("120", now: now) == 120)
        #expect(RetryPolicy.parseRetryAfter(" 0 ", now: now) == 0)
        #expect(RetryPolicy.parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now: now) == 30)
        #expect(RetryPolicy.parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now: now) == 0, "a date in the past means now")
        #expect(RetryPolicy.parseRetryAfter("-5", now: now) == nil)
        #expect(RetryPolicy.parseRetryAfter("soon", now: now) == nil)
        #expect(RetryPolicy.parseRetryAfter("", now: now) == nil)
    }

    @Test func relayAnswersAreClassified() {
        #expect(DeliveryDecision.classify(status: 201, retryAfter: nil, message: "") == .delivered)
        #expect(DeliveryDecision.classify(status: 200, retryAfter: nil, message: "") == .delivered)
        #expect(DeliveryDecision.classify(status: 503, retryAfter: 7, message: "db down") == .retry(reason: "HTTP 503: db down", retryAfter: 7))
        #expect(DeliveryDecision.classify(status: 429, retryAfter: 3, message: "") == .retry(reason: "HTTP 429", retryAfter: 3))
        // Retry-After only counts where the standard gives it meaning for a retry.
        #expect(DeliveryDecision.classify(status: 500, retryAfter: 3, message: "") == .retry(reason: "HTTP 500", retryAfter: nil))
        // Configuration problems of the kiosk, not of the session: retried.
        #expect(DeliveryDecision.classify(status: 401, retryAfter: nil, message: "revoked") == .retry(reason: "HTTP 401: revoked", retryAfter: nil))
        #expect(DeliveryDecision.classify(status: 404, retryAfter: nil, message: "") == .retry(reason: "HTTP 404", retryAfter: nil))
        // The session itself is refused: set aside.
        for status in [400, 403, 409, 413, 422] {
            #expect(DeliveryDecision.classify(status: status, retryAfter: nil, message: "no") == .reject(reason: "HTTP \(status): no"))
        }
    }
}
