import AsyncHTTPClient
import AWSSigning
import Foundation

/// The summaries' settings.
public struct SummaryConfiguration: Sendable, Hashable {
    /// Who writes summaries.
    public enum Provider: String, Sendable, Hashable, CaseIterable {
        case offline, bedrock
    }

    /// `HH_RELAY_SUMMARISER`.
    public var provider = Provider.offline
    /// Bedrock's model for summaries (`HH_RELAY_SUMMARY_MODEL_ID`; default: the voice turns' `HH_RELAY_BEDROCK_MODEL_ID`).
    public var modelID: String?
    /// The workers (`HH_RELAY_SUMMARY_WORKERS`, `…_LEASE_SECONDS`, `…_MAX_ATTEMPTS`, `…_RETRY_SECONDS`, `…_DEADLINE_SECONDS`).
    public var workers = SummaryWorkerSettings()
    /// How long one Bedrock call may take.
    public var deadlineSeconds = 30

    /// The defaults: the offline template, two workers.
    public init() {}

    /// The variables, with what each sets.
    public static let variables: [(name: String, meaning: String)] = [
        ("HH_RELAY_SUMMARISER", "who writes visit summaries: offline (the relay's template) or bedrock (default offline)"),
        ("HH_RELAY_SUMMARY_MODEL_ID", "Bedrock model for summaries (default HH_RELAY_BEDROCK_MODEL_ID)"),
        ("HH_RELAY_SUMMARY_WORKERS", "summary jobs worked at once per instance (default 2, 0: none in this instance)"),
        ("HH_RELAY_SUMMARY_LEASE_SECONDS", "how long a claimed job is held before another instance may take it over (default 60)"),
        ("HH_RELAY_SUMMARY_MAX_ATTEMPTS", "attempts before a job is marked failed (default 6)"),
        ("HH_RELAY_SUMMARY_RETRY_SECONDS", "the first retry's delay, doubled each time up to 300 s, with jitter (default 2)"),
        ("HH_RELAY_SUMMARY_DEADLINE_SECONDS", "how long one Bedrock call may take (default 30)"),
        ("HH_RELAY_SUMMARY_PRICE_INPUT", "US dollars per 1,000 input tokens, for the cost metric (default 0.00025)"),
        ("HH_RELAY_SUMMARY_PRICE_OUTPUT", "US dollars per 1,000 output tokens (default 0.00125)"),
    ]

    mutating func apply(_ values: [String: String]) throws(RelayConfigurationError) {
        func number<T: LosslessStringConvertible & Comparable>(_ name: String, _ range: ClosedRange<T>) throws(RelayConfigurationError) -> T? {
            guard let text = values[name], !text.isEmpty else { return nil }
            guard let value = T(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw RelayConfigurationError(name: name, message: "\"\(text)\" is not a number in \(range.lowerBound)…\(range.upperBound)")
            }
            return value
        }
        if let text = values["HH_RELAY_SUMMARISER"], !text.isEmpty {
            guard let provider = Provider(rawValue: text.lowercased()) else {
                throw RelayConfigurationError(name: "HH_RELAY_SUMMARISER", message: "\"\(text)\" is not one of \(Provider.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.provider = provider
        }
        if let model = values["HH_RELAY_SUMMARY_MODEL_ID"], !model.isEmpty { modelID = model }
        if let count: Int = try number("HH_RELAY_SUMMARY_WORKERS", 0...64) { workers.concurrency = count }
        if let seconds: Int = try number("HH_RELAY_SUMMARY_LEASE_SECONDS", 2...3600) { workers.lease = .seconds(seconds) }
        if let attempts: Int = try number("HH_RELAY_SUMMARY_MAX_ATTEMPTS", 1...100) { workers.maximumAttempts = attempts }
        if let seconds: Double = try number("HH_RELAY_SUMMARY_RETRY_SECONDS", 0.01...3600) { workers.retryDelay = .milliseconds(Int(seconds * 1000)) }
        if let seconds: Int = try number("HH_RELAY_SUMMARY_DEADLINE_SECONDS", 1...600) { deadlineSeconds = seconds }
        if let price: Double = try number("HH_RELAY_SUMMARY_PRICE_INPUT", 0...1000) { workers.dollarsPer1KInputTokens = price }
        if let price: Double = try number("HH_RELAY_SUMMARY_PRICE_OUTPUT", 0...1000) { workers.dollarsPer1KOutputTokens = price }
    }

    /// The configured summariser (Bedrock in the voice turns' region, with their endpoint and
    /// credentials chain, over `httpClient`).
    public func summariser(voice: VoiceConfiguration, environment: [String: String], httpClient: HTTPClient) throws -> any Summariser {
        switch provider {
        case .offline:
            return OfflineSummariser()
        case .bedrock:
            return BedrockSummariser(
                modelID: modelID ?? voice.bedrockModelID, region: voice.awsRegion, credentials: try AWSCredentialChain.provider(environment: environment),
                endpoint: voice.endpoints["BEDROCK"], httpClient: httpClient, deadline: .seconds(deadlineSeconds))
        }
    }

    /// An HTTP client for the summariser that may hold a connection per worker (the shared
    /// client holds 8 per host: more workers would wait for each other's calls).
    public func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, workers.concurrency)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}
