import Foundation
import HHProtocol

/// A visit's exports: its per-second series as CSV, and its measurements as a FHIR R4
/// `Bundle` of `Observation`s an EHR can import.
public enum VisitExport {
    /// `t_s,time_utc,heart_rate_bpm,snr_db,quality,respiration_bpm`, one row per second of the series.
    public static func csv(_ document: SessionDocument) -> String {
        var lines = ["t_s,time_utc,heart_rate_bpm,snr_db,quality,respiration_bpm"]
        for sample in document.heartRate {
            let time = document.startedAt.addingTimeInterval(sample.t)
            lines.append([
                number(sample.t), timestamp(time), sample.bpm.map(number) ?? "", sample.snrDb.map(number) ?? "",
                sample.bpm == nil ? "" : ReadingQuality(snrDb: sample.snrDb).rawValue, sample.respirationBpm.map(number) ?? "",
            ].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A FHIR R4 `collection` Bundle: the kiosk as a `Device`, and one `Observation` per
    /// estimate (heart rate, LOINC 8867-4; respiratory rate, LOINC 9279-1) with its time,
    /// device and quality (SNR as a component, the quality in words as the interpretation note).
    public static func fhirBundle(_ document: SessionDocument, deviceID: String, deviceName: String) throws -> Data {
        let deviceURL = "urn:uuid:\(uuid(from: "device:" + deviceID))"
        var entries: [[String: Any]] = [[
            "fullUrl": deviceURL,
            "resource": [
                "resourceType": "Device",
                "identifier": [["system": "urn:health-helper:kiosk", "value": deviceID]],
                "deviceName": [["name": deviceName, "type": "user-friendly-name"]],
                "version": [["value": document.metadata.softwareVersion]],
            ] as [String: Any],
        ]]
        func observation(_ index: Int, code: String, display: String, value: Double, sample: HeartRateSample, withQuality: Bool) -> [String: Any] {
            let time = timestamp(document.startedAt.addingTimeInterval(sample.t))
            var resource: [String: Any] = [
                "resourceType": "Observation",
                "status": "final",
                "category": [[
                    "coding": [["system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"]],
                ]],
                "code": ["coding": [["system": "http://loinc.org", "code": code, "display": display]], "text": display],
                "effectiveDateTime": time,
                "valueQuantity": ["value": (value * 10).rounded() / 10, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"],
                "device": ["reference": deviceURL, "display": deviceName],
                "method": ["text": "Contact-free camera measurement (remote photoplethysmography), \(document.metadata.pulseMethod)"],
                "identifier": [["system": "urn:health-helper:session", "value": "\(document.id)/\(code)/\(index)"]],
            ]
            if withQuality {
                let quality = ReadingQuality(snrDb: sample.snrDb)
                resource["note"] = [["text": "Reading quality: \(quality.rawValue)"]]
                if let snr = sample.snrDb {
                    resource["component"] = [[
                        "code": ["text": "Signal-to-noise ratio of the estimate"],
                        "valueQuantity": ["value": (snr * 10).rounded() / 10, "unit": "dB", "system": "http://unitsofmeasure.org", "code": "dB"],
                    ]]
                }
            }
            return ["fullUrl": "urn:uuid:\(uuid(from: "\(document.id)/\(code)/\(index)"))", "resource": resource]
        }
        for (index, sample) in document.heartRate.enumerated() {
            if let bpm = sample.bpm {
                entries.append(observation(index, code: "8867-4", display: "Heart rate", value: bpm, sample: sample, withQuality: true))
            }
            if let breaths = sample.respirationBpm {
                entries.append(observation(index, code: "9279-1", display: "Respiratory rate", value: breaths, sample: sample, withQuality: false))
            }
        }
        let bundle: [String: Any] = [
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": timestamp(document.endedAt),
            "identifier": ["system": "urn:health-helper:session", "value": document.id],
            "entry": entries,
        ]
        return try JSONSerialization.data(withJSONObject: bundle, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    }

    /// A stable UUID (version 5 layout, SHA-256 truncated) from a name: the same visit
    /// exported twice gives the same resource URLs.
    static func uuid(from name: String) -> String {
        var bytes = Array(sha256Hex(Data(name.utf8)).utf8.prefix(32))
        // Version nibble 5 and the RFC 4122 variant.
        bytes[12] = UInt8(ascii: "5")
        let variant = "89ab".utf8.map { $0 }
        bytes[16] = variant[Int(bytes[16]) % 4]
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = [text.prefix(8), text.dropFirst(8).prefix(4), text.dropFirst(12).prefix(4), text.dropFirst(16).prefix(4), text.dropFirst(20)]
        return parts.joined(separator: "-")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }

    static func timestamp(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }
}
