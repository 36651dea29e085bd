import Foundation
import HHProtocol
import Relay
import Testing

@Suite struct DeviceTokenTests {
    @Test func aMintedTokenParsesAndMatchesOnlyItsOwnHash() throws {
        let token = DeviceToken.mint(deviceID: "dev-1")
        let parsed = try #require(DeviceToken(token.text))
        #expect(parsed == token && parsed.deviceID == "dev-1")
        #expect(parsed.matches(storedHash: token.secretHash))
        #expect(!DeviceToken.mint(deviceID: "dev-1").matches(storedHash: token.secretHash), "a fresh secret every time")
        var tampered = token.text
        tampered.removeLast()
        tampered += token.text.hasSuffix("A") ? "B" : "A"
        #expect(DeviceToken(tampered)?.matches(storedHash: token.secretHash) == false)
        #expect(!token.matches(storedHash: ""))
        #expect(token.secretHash.count == 64 && !token.secretHash.contains(token.secret))
        #expect(token.secret.count == 43 && token.secret.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
    }

    @Test(arguments: ["", "hh1", "hh1..x", "hh2.dev.\(String(repeating: "a", count: 43))", "hh1.dev.short", "Bearer hh1.dev.\(String(repeating: "a", count: 43))"])
    func malformedTokensAreNotTokens(_ text: String) {
        #expect(DeviceToken(text) == nil)
    }
}

@Suite struct ReplyAudioHubTests {
    @Test func theHubKeepsTheNewestRepliesWithinItsCapacityAndRetention() {
        let hub = ReplyAudioHub(retention: .seconds(10), capacity: 3)
        let start = ContinuousClock.now
        let first = hub.register("a", now: start)
        _ = hub.register("b", now: start + .seconds(1))
        _ = hub.register("c", now: start + .seconds(2))
        #expect(hub.audio("a") === first)
        _ = hub.register("d", now: start + .seconds(3))
        #expect(hub.audio("a") == nil, "full: the oldest made room")
        #expect(["b", "c", "d"].allSatisfy { hub.audio($0) != nil })
        let again = hub.register("b", now: start + .seconds(4))
        #expect(hub.audio("b") === again, "a reply registered again replaces the old one")
        #expect(hub.audio("c") != nil && hub.audio("d") != nil)
        _ = hub.register("e", now: start + .seconds(13))
        #expect(hub.audio("c") == nil && hub.audio("d") == nil, "older than the retention")
        #expect(hub.audio("b") === again && hub.audio("e") != nil, "within the retention, the renewed one counted from its new time")
        _ = hub.register("f", now: start + .seconds(15))
        _ = hub.register("g", now: start + .seconds(16))
        #expect(hub.audio("b") == nil && ["e", "f", "g"].allSatisfy { hub.audio($0) != nil })
    }
}

@Suite struct RateLimiterTests {
    @Test func aBurstIsAllowedThenTheSustainedRate() {
        let limiter = RateLimiter(rate: 2, burst: 3)
        let start = ContinuousClock.now
        #expect((0..<3).map { _ in limiter.take("a", now: start) } == [nil, nil, nil])
        let wait = limiter.take("a", now: start)
        #expect(wait != nil && abs(wait! - 0.5) < 1e-6, "the next token comes in 1/rate")
        #expect(limiter.take("b", now: start) == nil, "each device has its own bucket")
        #expect(limiter.take("a", now: start + .milliseconds(500)) == nil)
        #expect(limiter.take("a", now: start + .milliseconds(500)) != nil)
    }

    @Test func aRefundGivesBackATokenButNeverMoreThanTheBurst() {
        let limiter = RateLimiter(rate: 0.001, burst: 2)
        let start = ContinuousClock.now
        #expect(limiter.take("a", now: start) == nil)
        #expect(limiter.take("a", now: start) == nil)
        #expect(limiter.take("a", now: start) != nil, "the burst is spent")
        limiter.refund("a")
        #expect(limiter.take("a", now: start) == nil, "the refunded token")
        limiter.refund("a")
        limiter.refund("a")
        limiter.refund("a")
        #expect(limiter.take("a", now: start) == nil && limiter.take("a", now: start) == nil)
        #expect(limiter.take("a", now: start) != nil, "refunds stop at the burst")
        limiter.refund("b")
        #expect(limiter.take("b", now: start) == nil && limiter.take("b", now: start) == nil && limiter.take("b", now: start) != nil,
                "a refund for a key never charged gives nothing extra")
    }
}

@Suite struct ValidationTests {
    static func document() -> SessionDocument {
        SessionDocument(
            id: UUID().uuidString.lowercased(), startedAt: Date(timeIntervalSince1970: 1_800_000_000),
            endedAt: Date(timeIntervalSince1970: 1_800_000_020), endReason: .absence,
            heartRate: [HeartRateSample(t: 5, bpm: 70, snrDb: 5), HeartRateSample(t: 6)],
            summary: VitalsSummary(heartRateMedianBpm: 70, secondsWithEstimate: 1),
            voiceTurns: [VoiceTurnSummary(id: UUID().uuidString, startS: 1, endS: 2)],
            metadata: SessionMetadata(softwareVersion: "0.4.0", pulseMethod: "pos"))
    }

    @Test func aKioskDocumentIsAcceptable() {
        #expect(SessionValidation.problems(Self.document()).isEmpty)
    }

    @Test func whatNoKioskMeasuresIsRefused() {
        var document = Self.document()
        document.id = "not-a-uuid"
        #expect(SessionValidation.problems(document) == ["id must be a UUID"])
        document = Self.document()
        document.endedAt = document.startedAt.addingTimeInterval(-1)
        #expect(SessionValidation.problems(document).contains("ended_at is before started_at"))
        document = Self.document()
        document.heartRate[0].bpm = 900
        #expect(SessionValidation.problems(document).first?.contains("outside 20…300") == true)
        document = Self.document()
        document.heartRate = [HeartRateSample(t: 6), HeartRateSample(t: 5)]
        #expect(SessionValidation.problems(document).first?.contains("time order") == true)
        document = Self.document()
        document.heartRate = [HeartRateSample(t: 500)]
        #expect(SessionValidation.problems(document).first?.contains("outside the session") == true)
        document = Self.document()
        document.schemaVersion = 7
        #expect(SessionValidation.problems(document).first?.contains("schema_version 7") == true)
        document = Self.document()
        document.voiceTurns.append(document.voiceTurns[0])
        #expect(SessionValidation.problems(document).first?.contains("repeated") == true)
    }
}

@Suite struct RelayConfigurationTests {
    @Test func theEnvironmentSetsEverything() throws {
        var configuration = RelayConfiguration()
        try configuration.apply([
            "HH_RELAY_HOST": "0.0.0.0", "HH_RELAY_PORT": "9090", "HH_RELAY_DATA_DIR": "/srv/relay",
            "HH_RELAY_DATABASE_URL": "postgres://relay:s%40cret@db.internal:6543/hh?sslmode=require",
            "HH_RELAY_MAX_BODY_BYTES": "65536", "HH_RELAY_RATE_LIMIT": "2.5", "HH_RELAY_LOG_LEVEL": "debug",
        ])
        #expect(configuration.host == "0.0.0.0" && configuration.port == 9090 && configuration.dataDirectory == "/srv/relay")
        #expect(configuration.maximumBodyBytes == 65536 && configuration.rateLimit == 2.5 && configuration.logLevel == "debug")
        let url = try #require(configuration.databaseURL)
        #expect(url.host == "db.internal" && url.port == 6543 && url.username == "relay" && url.password == "s@cret")
        #expect(url.database == "hh" && url.tls == .require)
        #expect(!url.description.contains("cret"), "no password in logs")
    }

    @Test(arguments: [
        ("HH_RELAY_PORT", "eighty", "0…65535"),
        ("HH_RELAY_PORT", "70000", "0…65535"),
        ("HH_RELAY_DATABASE_URL", "mysql://x@y/z", "postgres://"),
        ("HH_RELAY_DATABASE_URL", "postgres://db.internal/hh", "no user"),
        ("HH_RELAY_DATABASE_URL", "postgres://u@h/d?sslmode=maybe", "sslmode"),
        ("HH_RELAY_LOG_LEVEL", "loud", "info"),
        ("HH_RELAY_HOST", "", "empty"),
    ])
    func aBadValueNamesTheVariable(name: String, value: String, allowed: String) {
        var configuration = RelayConfiguration()
        #expect {
            try configuration.apply([name: value])
        } throws: { error in
            guard let error = error as? RelayConfigurationError else { return false }
            return error.name == name && error.message.contains(allowed)
        }
    }

    @Test func anEnvFileReadsLikeTheEnvironment() throws {
        let path = NSTemporaryDirectory() + "relay-\(UUID()).env"
        try "# relay\nHH_RELAY_PORT=8181\nHH_RELAY_DATA_DIR=\"/var/lib/relay\"\n\n".write(toFile: path, atomically: true, encoding: .utf8)
        var configuration = RelayConfiguration()
        try configuration.apply(try RelayConfiguration.readEnvFile(path))
        #expect(configuration.port == 8181 && configuration.dataDirectory == "/var/lib/relay")
        try "HH_RELAY_PORT\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: RelayConfigurationError.self) { try RelayConfiguration.readEnvFile(path) }
    }
}

@Suite struct WireTimestampTests {
    @Test func formatAndParseRoundTripToTheMillisecond() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let seconds = Int64.random(in: -2_000_000_000...4_000_000_000, using: &generator)
            let millisecond = Int64.random(in: 0...999, using: &generator)
            let date = Date(timeIntervalSince1970: Double(seconds * 1000 + millisecond) / 1000)
            let text = WireTimestamp.format(date)
            // The calendar part agrees with Foundation; the fraction is the exact millisecond.
            let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
            #expect(text == whole.dropLast() + "." + String(format: "%03d", millisecond) + "Z", "\(text) vs \(whole)")
            let parsed = WireTimestamp.parse(text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
            #expect(parsed == seconds * 1000 + millisecond, "\(text)")
        }
    }

    @Test func offsetsAndPrecisionAreRead() {
        #expect(WireTimestamp.parse("2026-11-26T09:30:00Z") == Date(timeIntervalSince1970: 1_795_685_400))
        #expect(WireTimestamp.parse("2026-11-26T10:30:00+01:00") == Date(timeIntervalSince1970: 1_795_685_400))
        #expect(WireTimestamp.parse("2026-11-26T09:30:00.250Z") == Date(timeIntervalSince1970: 1_795_685_400.25))
        for bad in ["", "2026-11-26", "2026-13-01T00:00:00Z", "2026-11-26T09:30:00", "2026-11-26T09:30:00.Z", "2026-11-26T09:30:00Zjunk", "2026-11-26 09:30:00Z"] {
            #expect(WireTimestamp.parse(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct DeviceCacheTests {
    let device = Device(id: "d1", clinicID: "c1", name: "Lobby", secretHash: "h")

    @Test func keepsDevicesForItsLifetimeOnly() {
        let cache = DeviceCache(lifetime: .seconds(5))
        let start = ContinuousClock.now
        #expect(cache.lookup(id: "d1", now: start) == .unknown)
        cache.keep(device, now: start)
        #expect(cache.lookup(id: "d1", now: start + .seconds(4)) == .present(device))
        #expect(cache.lookup(id: "d1", now: start + .seconds(5)) == .unknown)
        #expect(cache.lookup(id: "d1", now: start + .seconds(1)) == .unknown, "an expired entry is dropped")
    }

    @Test func missingIdsAreRememberedForTheSameLifetime() {
        let cache = DeviceCache(lifetime: .seconds(5))
        let start = ContinuousClock.now
        cache.keepMissing("ghost", now: start)
        #expect(cache.lookup(id: "ghost", now: start + .seconds(4)) == .absent)
        #expect(cache.lookup(id: "ghost", now: start + .seconds(5)) == .unknown)
    }

    @Test func aZeroLifetimeKeepsNothingAndCapacityIsBounded() {
        let none = DeviceCache(lifetime: .zero)
        none.keep(device)
        none.keepMissing("ghost")
        #expect(none.lookup(id: "d1") == .unknown && none.lookup(id: "ghost") == .unknown)
        let small = DeviceCache(lifetime: .seconds(60), capacity: 3)
        for index in 0..<3 { small.keep(Device(id: "d\(index)", clinicID: "c", name: "n", secretHash: "h")) }
        small.keep(Device(id: "d9", clinicID: "c", name: "n", secretHash: "h"))
        #expect(small.lookup(id: "d9") != .unknown && small.lookup(id: "d0") == .unknown)
    }
}
