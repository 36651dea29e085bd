import Foundation

/// The device API's OpenAPI document, served at `GET /openapi.yaml`. It lives in the target's
/// resources (`Sources/Relay/Resources/openapi.yaml`; `docs/openapi.yaml` links to it) so that
/// SwiftPM bundles it beside the binary.
enum OpenAPIDocument {
    static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"), let data = try? Data(contentsOf: url) else {
            return Array("openapi: 3.1.0\n# the bundled document is missing\n".utf8)
        }
        return Array(data)
    }()
}
