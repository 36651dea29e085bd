import Foundation
import HHProtocol
import Hummingbird
import NIOCore

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

    /// The API error for any error: ours as they are, Hummingbird's by status, the rest 500.
    static func from(_ error: any Error) -> APIError {
        if let error = error as? APIError { return error }
        if error is NIOTooManyBytesError { return APIError(.contentTooLarge, "too_large", "request body too large") }
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
