import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A strict reader of a `multipart/form-data` body held in memory (RFC 7578 over RFC 2046):
/// the parts between `--boundary` delimiters, each with its header lines and its bytes.
///
/// Written here rather than taken from multipart-kit 4.7.1, whose parser traps on a header-name
/// byte above 127 (it indexes a 128-entry table with any byte): one request could stop the
/// relay. Found by the fuzz suite; the input is kept in `Tests/FuzzTests/Regressions/turn`.
enum MultipartForm {
    /// One part: its `Content-Disposition` name and its bytes.
    struct Part: Sendable, Hashable {
        var name: String?
        var bytes: [UInt8]
    }

    /// Why a body is not multipart.
    struct Malformed: Error, Sendable, Hashable, CustomStringConvertible {
        var description: String
    }

    /// Most parts read (a form of two needs no more).
    static let maximumParts = 8
    /// Longest header section of one part.
    static let maximumHeaderBytes = 8 * 1024

    /// The parts of `body`, delimited by `boundary`.
    static func parts(of body: [UInt8], boundary: String) throws(Malformed) -> [Part] {
        let delimiter = Array("--\(boundary)".utf8)
        // The first delimiter opens the body or follows a preamble line.
        var position: Int
        if body.starts(with: delimiter) {
            position = delimiter.count
        } else if let found = find([13, 10] + delimiter, in: body, from: 0) {
            position = found + 2 + delimiter.count
        } else {
            throw Malformed(description: "no boundary \"\(boundary)\" in the body")
        }
        var parts: [Part] = []
        while true {
            // After a delimiter: "--" closes the body; otherwise (optional spaces) CRLF, then a part.
            if body[position...].starts(with: [45, 45]) { return parts }
            while position < body.count, body[position] == 32 || body[position] == 9 { position += 1 }
            guard body[position...].starts(with: [13, 10]) else { throw Malformed(description: "a boundary line does not end with CRLF") }
            position += 2
            guard parts.count < maximumParts else { throw Malformed(description: "more than \(maximumParts) parts") }
            // The header section ends at an empty line (at once, for a part without headers).
            let headersEnd: Int
            if body[position...].starts(with: [13, 10]) {
                headersEnd = position - 2
            } else if let end = find([13, 10, 13, 10], in: body, from: position, within: maximumHeaderBytes) {
                headersEnd = end
            } else {
                throw Malformed(description: "a part's headers do not end (or are longer than \(maximumHeaderBytes) bytes)")
            }
            let name = try dispositionName(Array(body[position..<max(position, headersEnd)]))
            let bodyStart = headersEnd + 4
            guard let next = find([13, 10] + delimiter, in: body, from: bodyStart) else {
                throw Malformed(description: "the body ends before its closing boundary")
            }
            parts.append(Part(name: name, bytes: Array(body[bodyStart..<next])))
            position = next + 2 + delimiter.count
        }
    }

    /// The `name` parameter of the part's `Content-Disposition: form-data` header; header
    /// names must be tokens and lines CRLF-separated.
    static func dispositionName(_ headers: [UInt8]) throws(Malformed) -> String? {
        var name: String?
        for line in split(headers) where !line.isEmpty {
            guard let colon = line.firstIndex(of: 58), colon > 0, line[..<colon].allSatisfy(isTokenByte) else {
                throw Malformed(description: "a part header is not \"Name: value\"")
            }
            guard String(decoding: line[..<colon], as: UTF8.self).lowercased() == "content-disposition" else { continue }
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self)
            let fields = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.first?.lowercased() == "form-data" else { throw Malformed(description: "a part is not form-data") }
            for field in fields.dropFirst() {
                let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2, pair[0].lowercased() == "name" else { continue }
                var text = pair[1]
                if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
                name = text
            }
        }
        return name
    }

    /// Header lines, split at CRLF.
    private static func split(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        while let end = find([13, 10], in: bytes, from: start) {
            lines.append(bytes[start..<end])
            start = end + 2
        }
        lines.append(bytes[start...])
        return lines
    }

    /// RFC 9110 token characters.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// The index of the first `needle` in `haystack` at or after `start` (and, with `within`,
    /// starting no more than that many bytes after it).
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int, within: Int? = nil) -> Int? {
        guard start <= haystack.count else { return nil }
        let end = within.map { min(haystack.count, start + $0 + needle.count) } ?? haystack.count
        guard end - start >= needle.count else { return nil }
        return haystack.withUnsafeBytes { hay in
            needle.withUnsafeBytes { pin in
                // memchr for the first byte, memcmp for the rest (memmem is a GNU extension).
                let base = hay.baseAddress!
                var index = start
                while index + needle.count <= end {
                    guard let hit = memchr(base + index, Int32(needle[0]), end - needle.count + 1 - index) else { return nil }
                    let offset = UnsafeRawPointer(hit) - base
                    if memcmp(base + offset, pin.baseAddress!, needle.count) == 0 { return offset }
                    index = offset + 1
                }
                return nil
            }
        }
    }
}
