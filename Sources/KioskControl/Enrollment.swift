/// Where the relay is and who the kiosk is.
public struct Enrollment: Codable, Sendable, Hashable {
    /// The relay's base URL.
    public var relayURL: String
    /// The device token minted by `hh-relay admin add-device`.
    public var token: String

    /// Creates an enrolment.
    public init(relayURL: String, token: String) {
        self.relayURL = relayURL
        self.token = token
    }
}
