import AsyncHTTPClient
import AWSSigning
import Conversation
import Foundation
import HHProtocol
import NIOCore
import NIOFoundationCompat

/// What a summary is written from: the session document, its answered voice turns, its kiosk.
public struct SummaryInput: Sendable {
    public var document: SessionDocument
    public var turns: [StoredTurn]
    public var kioskName: String

    /// An input.
    public init(document: SessionDocument, turns: [StoredTurn], kioskName: String) {
        self.document = document
        self.turns = turns
        self.kioskName = kioskName
    }
}

/// A summary as a summariser writes it.
public struct SummaryDraft: Sendable, Hashable {
    public var text: String
    /// The model id, or ``OfflineSummariser/modelName``.
    public var model: String
    public var promptVersion: String
    public var inputTokens: Int?
    public var outputTokens: Int?
}

/// Why a summary could not be written now.
public enum SummaryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Worth trying again later (throttled, a 5xx, no answer in time, unreachable).
    case retryable(String)
    /// Trying again will not help (refused: a bad signature, a model id that does not exist).
    case permanent(String)

    public var description: String {
        switch self {
        case .retryable(let reason): "retryable: \(reason)"
        case .permanent(let reason): reason
        }
    }
}

/// Writes a visit's summary.
public protocol Summariser: Sendable {
    func summarise(_ input: SummaryInput) async throws(SummaryError) -> SummaryDraft
}

/// The facts of a visit in plain words, the one source both summarisers write from: each
/// measurement with its reliability, what was withheld, the conversation, the escalations.
public enum SummaryFacts {
    public static func lines(_ input: SummaryInput) -> [String] {
        let document = input.document, summary = document.summary
        let seconds = Int(document.endedAt.timeIntervalSince(document.startedAt).rounded())
        var lines = ["Visit: kiosk \"\(input.kioskName)\", started \(Date.ISO8601FormatStyle().format(document.startedAt)), lasted \(seconds) s."]
        let escalations = input.turns.filter(\.escalated)
        for turn in escalations {
            lines.append("Emergency raised by the kiosk (\(turn.escalationReason!.replacingOccurrences(of: "_", with: " "))) when the patient said: \"\(turn.transcript)\".")
        }
        if let median = summary.heartRateMedianBpm {
            let quality = ReadingQuality(snrDb: summary.snrMedianDb).rawValue
            var line = "Heart rate: median \(Int(median.rounded())) beats per minute, a \(quality) reading"
            if let low = summary.heartRateMinBpm, let high = summary.heartRateMaxBpm { line += ", range \(Int(low.rounded()))-\(Int(high.rounded()))" }
            line += "; estimated for \(summary.secondsWithEstimate) of \(seconds) s"
            let withheld = seconds - summary.secondsWithEstimate
            lines.append(line + (withheld > 0 ? "; the kiosk withheld a reading for the other \(withheld) s." : "."))
        } else {
            lines.append("Heart rate: not measured; the kiosk withheld every reading (no reliable signal).")
        }
        if let breathing = summary.respirationMedianBpm {
            lines.append("Respiration: median \(Int(breathing.rounded())) breaths per minute.")
        } else {
            lines.append("Respiration: not measured.")
        }
        if let variability = summary.variability {
            lines.append("Heart-rate variability: RMSSD \(Int(variability.rmssdMs.rounded())) ms, SDNN \(Int(variability.sdnnMs.rounded())) ms.")
        }
        if input.turns.isEmpty {
            lines.append("Conversation: the patient did not speak to the kiosk.")
        } else {
            for turn in input.turns {
                lines.append("Patient said: \"\(turn.transcript.isEmpty ? "(nothing recognised)" : turn.transcript)\"; the kiosk answered: \"\(turn.replyText)\"")
            }
        }
        return lines
    }
}

/// The embedded default: a factual summary from a template, with no cloud, that says it is one.
public struct OfflineSummariser: Summariser {
    /// What ``StoredSummary/model`` says for these.
    public static let modelName = "offline"
    public static let promptVersion = "template-1"

    public init() {}

    public func summarise(_ input: SummaryInput) async throws(SummaryError) -> SummaryDraft {
        SummaryDraft(text: Self.text(input), model: Self.modelName, promptVersion: Self.promptVersion, inputTokens: nil, outputTokens: nil)
    }

    /// The template's text, also what stands in for a model's summary that was withheld.
    public static func text(_ input: SummaryInput, note: String? = nil) -> String {
        var lines = ["Offline summary, written by the relay's template from the measurements (not by a language model)."]
        if let note { lines.append(note) }
        return (lines + SummaryFacts.lines(input)).joined(separator: "\n")
    }
}

/// Amazon Bedrock's `Converse` (one request, the whole answer): the versioned prompt as the
/// system text, the visit's facts as the user message. A summary that reads as a diagnosis or
/// treatment advice is not kept: the template's summary stands, with a note that says so.
public struct BedrockSummariser: Summariser {
    let runtime: ProviderHTTP
    let modelID: String
    let deadline: Duration
    private let screen = ReplyScreen()

    /// A summariser calling `modelID` in `region` (the endpoint overridable for tests).
    public init(
        modelID: String, region: String, credentials: any AWSCredentialProvider, endpoint: ProviderEndpoint? = nil, httpClient: HTTPClient = .shared,
        deadline: Duration = .seconds(30)
    ) {
        self.modelID = modelID
        self.deadline = deadline
        runtime = .bedrock(region: region, credentials: credentials, endpoint: endpoint, httpClient: httpClient)
    }

    /// The prompt shipped with the relay (`Resources/summary-prompt.txt`) and its version (its first line).
    public static let prompt: (version: String, text: String) = {
        guard let url = Bundle.module.url(forResource: "summary-prompt", withExtension: "txt"),
              let text = try? String(contentsOf: url, encoding: .utf8), let first = text.split(separator: "\n").first
        else { return ("missing", "Summarise the visit's facts for a clinician. Never diagnose or advise treatment.") }
        return (first.replacingOccurrences(of: "version: ", with: ""), text.split(separator: "\n", maxSplits: 1).last.map(String.init) ?? text)
    }()

    /// The `Converse` request body.
    static func requestBody(_ input: SummaryInput) throws -> [UInt8] {
        let body: [String: Any] = [
            "system": [["text": prompt.text]],
            "messages": [["role": "user", "content": [["text": "The facts of the visit:\n" + SummaryFacts.lines(input).joined(separator: "\n")]]]],
            "inferenceConfig": ["maxTokens": 400, "temperature": 0],
        ]
        return Array(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
    }

    public func summarise(_ input: SummaryInput) async throws(SummaryError) -> SummaryDraft {
        let text: String, usage: [String: Any]
        do {
            let response = try await runtime.post(
                path: "/model/\(SigV4Encoding.encode(modelID, keepingSlashes: false))/converse", body: try Self.requestBody(input),
                contentType: "application/json", accept: "application/json", deadline: deadline)
            let bytes = try await response.body.collect(upTo: 1 << 20)
            guard let object = try JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any],
                  let message = (object["output"] as? [String: Any])?["message"] as? [String: Any],
                  let content = message["content"] as? [[String: Any]]
            else { throw SummaryError.retryable("Bedrock answered without output.message.content") }
            text = content.compactMap { $0["text"] as? String }.joined().trimmingCharacters(in: .whitespacesAndNewlines)
            usage = object["usage"] as? [String: Any] ?? [:]
        } catch let error as SummaryError {
            throw error
        } catch let error as VoiceProviderError {
            throw Self.classify(error)
        } catch is CancellationError {
            throw .retryable("cancelled")
        } catch {
            throw .retryable("\(error)")
        }
        guard !text.isEmpty else { throw .retryable("Bedrock answered with no text") }
        let inputTokens = usage["inputTokens"] as? Int, outputTokens = usage["outputTokens"] as? Int
        if let finding = screen.finding(in: text) {
            return SummaryDraft(
                text: OfflineSummariser.text(input, note: "The model's summary (\(modelID)) was withheld because it read as \(finding.kind == "prescription" ? "treatment advice" : "a diagnosis")."),
                model: OfflineSummariser.modelName, promptVersion: OfflineSummariser.promptVersion, inputTokens: inputTokens, outputTokens: outputTokens)
        }
        return SummaryDraft(text: text, model: modelID, promptVersion: Self.prompt.version, inputTokens: inputTokens, outputTokens: outputTokens)
    }

    /// Throttling, 5xx, no answer and dropped connections are worth a retry; other refusals are not.
    static func classify(_ error: VoiceProviderError) -> SummaryError {
        switch error {
        case .throttled(let message): .retryable("throttled: \(message)")
        case .status(let status, let message) where status >= 500 || status == 408: .retryable("\(status): \(message)")
        case .status(let status, let message): .permanent("Bedrock refused (\(status)): \(message)")
        default: .retryable("\(error)")
        }
    }
}
