import Foundation
import HHProtocol
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// An error answered as the design's JSON body: `{"error": {"code": "...", "message": "..."}}`.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Extra headers (`Retry-After`, `WWW-Authenticate`).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse()
    }

    /// The response, without needing a request.
    func jsonResponse() -> Response {
        let body = (try? WireJSON.encoder().encode(ErrorResponse(code: code, message: message))) ?? Data()
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func unauthorized(_ message: String) -> APIError {
        APIError(.unauthorized, "unauthorized", message, headers: [.wwwAuthenticate: "Bearer"])
    }

    /// What a 503 is about.
    enum Dependency: String {
        case database = "the database"
        case objects = "the object store"
    }

    /// 503 for a failed dependency, with `Retry-After`. The cause goes to the log (with the
    /// request's id); the answer names the dependency and, where the relay's own store is not
    /// the one on disk any more, why.
    static func unavailable(_ dependency: Dependency, _ error: any Error, logger: Logger) -> APIError {
        logger.error("\(dependency.rawValue) failed", metadata: ["error": "\(String(reflecting: error))"])
        var message = "\(dependency.rawValue) is unavailable"
        if case RelayStoreError.misplaced(let reason) = error { message += ": " + reason }
        if case ObjectStoreError.misplaced(let reason) = error { message += ": " + reason }
        return APIError(.serviceUnavailable, "unavailable", message, headers: [.retryAfter: "5"])
    }

    /// The API error for any error: ours as they are, Hummingbird's by status, HTTP framing
    /// errors 400, the rest 500.
    static func from(_ error: any Error) -> APIError {
        if let error = error as? APIError { return error }
        if error is NIOTooManyBytesError { return APIError(.contentTooLarge, "too_large", "request body too large") }
        if let error = error as? HTTPParserError {
            // A body that breaks HTTP/1.1 framing (bad chunk sizes, cut short): the client's fault.
            if case .invalidEOFState = error {
                return APIError(.badRequest, "incomplete_body", "the request body ended early", headers: [.connection: "close"])
            }
            return APIError(.badRequest, "malformed_request", "malformed HTTP/1.1 message (\(error))", headers: [.connection: "close"])
        }
        if let error = error as? HTTPError {
            let code = switch error.status.code {
            case 404: "not_found"
            case 405: "method_not_allowed"
            case 413: "too_large"
            case 400..<500: "bad_request"
            default: "internal"
            }
            let message = error.body ?? (error.status.code == 413 ? "request body too large" : error.status.reasonPhrase)
            return APIError(error.status, code, message, headers: error.headers)
        }
        return APIError(.internalServerError, "internal", "internal error")
    }
}
