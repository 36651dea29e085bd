import Foundation

/// The relay's base URL, checked where it enters (configuration, `hhctl enroll`, the
/// enrolment file) so that nothing downstream meets a URL it cannot use: `http` or `https`, a
/// host, a port in 1…65535 if any, no user name or password, no query or fragment.
public struct RelayAddress: Sendable, Hashable, CustomStringConvertible {
    /// The URL without a trailing slash, e.g. `https://relay.example.org/base`.
    public let base: String

    /// Checks `text`; the error says what is wrong with it.
    public init(_ text: String) throws(RelayAddressError) {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline }),
              let components = URLComponents(string: text) else {
            throw RelayAddressError("\"\(text)\" is not a URL")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw RelayAddressError("\"\(text)\" is not an http:// or https:// URL")
        }
        guard let host = components.host, !host.isEmpty else { throw RelayAddressError("\"\(text)\" has no host") }
        if let port = components.port, !(1...65_535).contains(port) {
            throw RelayAddressError("\"\(text)\": port \(port) is outside 1…65535")
        }
        // URLComponents drops a port it cannot read ("host:99999999999999999999"); refuse those too.
        if components.port == nil, let authority = text.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first,
           !authority.hasSuffix("]"), authority.contains(":") {
            throw RelayAddressError("\"\(text)\" has a port that is not a number in 1…65535")
        }
        guard components.user == nil, components.password == nil else {
            throw RelayAddressError("\"\(text)\": put the device token in the token file, not in the URL")
        }
        guard components.query == nil, components.fragment == nil else {
            throw RelayAddressError("\"\(text)\": a relay URL has no query or fragment")
        }
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
    }

    public var description: String { base }
}

/// Why a relay URL is unusable.
public struct RelayAddressError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, naming the URL.
    public var description: String
    init(_ description: String) { self.description = description }
}
