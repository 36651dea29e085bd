import Foundation

/// The relay's settings. Read from environment variables (how ECS passes them, secrets
/// included), an optional env file of `KEY=VALUE` lines, and command-line flags, in rising
/// order of precedence. A bad value is a ``RelayConfigurationError`` naming the variable.
public struct RelayConfiguration: Sendable, Hashable {
    /// Address to listen on (`HH_RELAY_HOST`).
    public var host = "127.0.0.1"
    /// Port to listen on (`HH_RELAY_PORT`).
    public var port = 8080
    /// Folder of the embedded database (`HH_RELAY_DATA_DIR`).
    public var dataDirectory = "data"
    /// `postgres://user:password@host:port/database?sslmode=…` selects Postgres; unset means
    /// SQLite in the data folder (`HH_RELAY_DATABASE_URL`).
    public var databaseURL: DatabaseURL?
    /// Largest request body accepted, bytes (`HH_RELAY_MAX_BODY_BYTES`).
    public var maximumBodyBytes = 2 << 20
    /// Sustained requests per second per device (`HH_RELAY_RATE_LIMIT`).
    public var rateLimit = 5.0
    /// Requests a device may make in a burst (`HH_RELAY_RATE_BURST`).
    public var rateBurst = 20.0
    /// Postgres connections per instance (`HH_RELAY_DB_POOL_SIZE`).
    public var databasePoolSize = 10
    /// How long an instance keeps a device it looked up, seconds: the longest a revoked token
    /// still works (`HH_RELAY_DEVICE_CACHE_SECONDS`).
    public var deviceCacheSeconds = 5.0
    /// swift-log level (`HH_RELAY_LOG_LEVEL`).
    public var logLevel = "info"
    /// Objects in S3 (`HH_RELAY_S3_BUCKET` and friends); `nil` means the folder `objects` in
    /// the data folder.
    public var s3: S3Location?
    /// Seconds a connection may stay silent: between requests, before a request's head is
    /// complete, or within its body (`HH_RELAY_IDLE_TIMEOUT_SECONDS`).
    public var idleTimeoutSeconds = 30
    /// Seconds a request's whole body may take to arrive, however it trickles
    /// (`HH_RELAY_BODY_TIMEOUT_SECONDS`).
    public var bodyTimeoutSeconds = 60
    /// Connections served at once; more wait to be accepted (`HH_RELAY_MAX_CONNECTIONS`).
    public var maximumConnections = 1024
    /// Seconds SIGTERM waits for requests in flight before cutting them off
    /// (`HH_RELAY_SHUTDOWN_SECONDS`).
    public var shutdownSeconds = 20
    /// Whether the relay is behind a proxy (the ALB) that appends the client's address to
    /// `X-Forwarded-For`: failed sign-ins are then throttled per that address, not per proxy
    /// (`HH_RELAY_BEHIND_PROXY`).
    public var behindProxy = false
    /// The voice turns' providers and retention (`HH_RELAY_SPEECH_TO_TEXT` and friends).
    public var voice = VoiceConfiguration()
    /// Who writes the visits' summaries and how the workers behave (`HH_RELAY_SUMMARISER` and friends).
    public var summaries = SummaryConfiguration()
    /// Whether the web UI's session cookie is `Secure` (sent over HTTPS only) and pages carry
    /// HSTS; false only for plain-HTTP localhost (`HH_RELAY_COOKIE_SECURE`).
    public var cookieSecure = true
    /// Minutes a signed-in browser may stay idle (`HH_RELAY_WEB_IDLE_MINUTES`).
    public var webIdleMinutes = 30
    /// Hours a sign-in lasts however busy (`HH_RELAY_WEB_ABSOLUTE_HOURS`).
    public var webAbsoluteHours = 12

    /// Where objects go when S3 is not configured.
    public var objectsDirectory: String { dataDirectory + "/objects" }

    /// The defaults.
    public init() {}

    /// The environment variables read, with what each sets.
    public static let variables: [(name: String, meaning: String)] = [
        ("HH_RELAY_HOST", "address to listen on (default 127.0.0.1)"),
        ("HH_RELAY_PORT", "port (default 8080)"),
        ("HH_RELAY_DATA_DIR", "folder of the embedded SQLite database (default data)"),
        ("HH_RELAY_DATABASE_URL", "postgres://user:password@host:port/db[?sslmode=disable|prefer|require|verify-full][&sslrootcert=CA.pem]; unset: SQLite"),
        ("HH_RELAY_MAX_BODY_BYTES", "largest request body (default 2097152)"),
        ("HH_RELAY_RATE_LIMIT", "requests per second per device (default 5)"),
        ("HH_RELAY_RATE_BURST", "burst per device (default 20)"),
        ("HH_RELAY_DB_POOL_SIZE", "Postgres connections per instance (default 10)"),
        ("HH_RELAY_DEVICE_CACHE_SECONDS", "how long a looked-up device is kept, the longest a revoked token still works (default 5, 0: never kept)"),
        ("HH_RELAY_LOG_LEVEL", "trace, debug, info, notice, warning, error or critical (default info)"),
        ("HH_RELAY_IDLE_TIMEOUT_SECONDS", "seconds a connection may stay silent, also the deadline for a request's head (default 30)"),
        ("HH_RELAY_BODY_TIMEOUT_SECONDS", "seconds a request body may take to arrive in all (default 60)"),
        ("HH_RELAY_MAX_CONNECTIONS", "connections served at once per instance (default 1024)"),
        ("HH_RELAY_SHUTDOWN_SECONDS", "seconds SIGTERM waits for requests in flight (default 20)"),
        ("HH_RELAY_COOKIE_SECURE", "false only for the web UI on plain-HTTP localhost: the session cookie then lacks Secure (default true)"),
        ("HH_RELAY_WEB_IDLE_MINUTES", "minutes a signed-in browser may stay idle (default 30)"),
        ("HH_RELAY_WEB_ABSOLUTE_HOURS", "hours a sign-in lasts however busy (default 12)"),
        ("HH_RELAY_BEHIND_PROXY", "true behind a load balancer that appends the client to X-Forwarded-For (default false)"),
        ("HH_RELAY_S3_BUCKET", "S3 bucket for objects (session documents); unset: the folder objects in the data folder"),
        ("HH_RELAY_S3_PREFIX", "prefix of every object key in the bucket, e.g. prod/ (default none)"),
        ("HH_RELAY_S3_REGION", "the bucket's region (default AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)"),
        ("HH_RELAY_S3_ENDPOINT", "an S3-compatible endpoint such as http://127.0.0.1:5000, addressed path-style (default AWS)"),
    ] + VoiceConfiguration.variables + SummaryConfiguration.variables

    /// Applies `values` (environment variables or an env file) over the current settings.
    public mutating func apply(_ values: [String: String]) throws(RelayConfigurationError) {
        func number<T: LosslessStringConvertible & Comparable>(_ name: String, _ range: ClosedRange<T>) throws(RelayConfigurationError) -> T? {
            guard let text = values[name] else { return nil }
            guard let value = T(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw RelayConfigurationError(name: name, message: "\"\(text)\" is not a number in \(range.lowerBound)…\(range.upperBound)")
            }
            return value
        }
        func boolean(_ name: String) throws(RelayConfigurationError) -> Bool? {
            guard let flag = values[name] else { return nil }
            switch flag.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no", "": return false
            default: throw RelayConfigurationError(name: name, message: "\"\(flag)\" is not true or false")
            }
        }
        if let host = values["HH_RELAY_HOST"] {
            guard !host.isEmpty else { throw RelayConfigurationError(name: "HH_RELAY_HOST", message: "must not be empty") }
            self.host = host
        }
        if let port: Int = try number("HH_RELAY_PORT", 0...65_535) { self.port = port }
        if let directory = values["HH_RELAY_DATA_DIR"] {
            guard !directory.isEmpty else { throw RelayConfigurationError(name: "HH_RELAY_DATA_DIR", message: "must not be empty") }
            dataDirectory = directory
        }
        if let url = values["HH_RELAY_DATABASE_URL"], !url.isEmpty {
            do { databaseURL = try DatabaseURL(url) } catch { throw RelayConfigurationError(name: "HH_RELAY_DATABASE_URL", message: error.message) }
        }
        if let bytes: Int = try number("HH_RELAY_MAX_BODY_BYTES", 1024...(1 << 30)) { maximumBodyBytes = bytes }
        if let rate: Double = try number("HH_RELAY_RATE_LIMIT", 0.01...1_000_000) { rateLimit = rate }
        if let burst: Double = try number("HH_RELAY_RATE_BURST", 1...1_000_000) { rateBurst = burst }
        if let size: Int = try number("HH_RELAY_DB_POOL_SIZE", 1...1000) { databasePoolSize = size }
        if let seconds: Double = try number("HH_RELAY_DEVICE_CACHE_SECONDS", 0...300) { deviceCacheSeconds = seconds }
        if let seconds: Int = try number("HH_RELAY_IDLE_TIMEOUT_SECONDS", 1...3600) { idleTimeoutSeconds = seconds }
        if let seconds: Int = try number("HH_RELAY_BODY_TIMEOUT_SECONDS", 1...3600) { bodyTimeoutSeconds = seconds }
        if let count: Int = try number("HH_RELAY_MAX_CONNECTIONS", 1...1_000_000) { maximumConnections = count }
        if let seconds: Int = try number("HH_RELAY_SHUTDOWN_SECONDS", 1...3600) { shutdownSeconds = seconds }
        if let flag = try boolean("HH_RELAY_BEHIND_PROXY") { behindProxy = flag }
        if let flag = try boolean("HH_RELAY_COOKIE_SECURE") { cookieSecure = flag }
        if let minutes: Int = try number("HH_RELAY_WEB_IDLE_MINUTES", 1...1440) { webIdleMinutes = minutes }
        if let hours: Int = try number("HH_RELAY_WEB_ABSOLUTE_HOURS", 1...168) { webAbsoluteHours = hours }
        if let level = values["HH_RELAY_LOG_LEVEL"] {
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(level) else {
                throw RelayConfigurationError(name: "HH_RELAY_LOG_LEVEL", message: "\"\(level)\" is not one of \(levels.joined(separator: ", "))")
            }
            logLevel = level
        }
        try applyS3(values)
        try voice.apply(values)
        try summaries.apply(values)
    }

    private mutating func applyS3(_ values: [String: String]) throws(RelayConfigurationError) {
        let settings = ["HH_RELAY_S3_PREFIX", "HH_RELAY_S3_REGION", "HH_RELAY_S3_ENDPOINT"]
        let named = values["HH_RELAY_S3_BUCKET"].flatMap { $0.isEmpty ? nil : $0 }
        guard let bucket = named ?? s3?.bucket else {
            if let stray = settings.first(where: { !(values[$0] ?? "").isEmpty }) {
                throw RelayConfigurationError(name: stray, message: "is set but HH_RELAY_S3_BUCKET is not")
            }
            return
        }
        // Bucket naming rules (DNS-compatible, as virtual-hosted addressing needs).
        let bucketCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
        guard (3...63).contains(bucket.count), bucket.allSatisfy(bucketCharacters.contains),
              bucket.first!.isLetter || bucket.first!.isNumber, bucket.last!.isLetter || bucket.last!.isNumber
        else {
            throw RelayConfigurationError(name: "HH_RELAY_S3_BUCKET", message: "\"\(bucket)\" is not a bucket name (3-63 of a-z, 0-9, '.', '-')")
        }
        var location = s3 ?? S3Location(bucket: bucket, region: "us-east-1")
        location.bucket = bucket
        if s3 == nil, let region = values["AWS_REGION"] ?? values["AWS_DEFAULT_REGION"], !region.isEmpty { location.region = region }
        if let region = values["HH_RELAY_S3_REGION"], !region.isEmpty { location.region = region }
        guard !location.region.isEmpty, location.region.allSatisfy(Set("abcdefghijklmnopqrstuvwxyz0123456789-").contains) else {
            throw RelayConfigurationError(name: "HH_RELAY_S3_REGION", message: "\"\(location.region)\" is not a region name such as eu-west-1")
        }
        if var prefix = values["HH_RELAY_S3_PREFIX"] {
            if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
            guard prefix.isEmpty || (try? ObjectKey(String(prefix.dropLast()))) != nil else {
                throw RelayConfigurationError(name: "HH_RELAY_S3_PREFIX", message: "\"\(prefix)\" may hold only letters, digits, '-', '_', '.' and '/'")
            }
            location.prefix = prefix
        }
        if let endpoint = values["HH_RELAY_S3_ENDPOINT"], !endpoint.isEmpty {
            guard let components = URLComponents(string: endpoint), ["http", "https"].contains(components.scheme ?? ""),
                  components.host?.isEmpty == false, components.query == nil
            else {
                throw RelayConfigurationError(name: "HH_RELAY_S3_ENDPOINT", message: "\"\(endpoint)\" is not an http:// or https:// URL")
            }
            location.endpoint = endpoint
        }
        s3 = location
    }

    /// Reads an env file: `KEY=VALUE` lines, `#` comments, optional quotes around values.
    public static func readEnvFile(_ path: String) throws(RelayConfigurationError) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw RelayConfigurationError(name: path, message: "cannot read the file")
        }
        var values: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "="), !line[..<equals].isEmpty else {
                throw RelayConfigurationError(name: "\(path):\(number + 1)", message: "expected KEY=VALUE")
            }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" {
                value = String(value.dropFirst().dropLast())
            }
            values[line[..<equals].trimmingCharacters(in: .whitespaces)] = value
        }
        return values
    }
}

/// A configuration value that is not allowed.
public struct RelayConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The variable, flag or file position.
    public var name: String
    /// What is wrong and what is allowed.
    public var message: String

    /// Creates an error.
    public init(name: String, message: String) {
        self.name = name
        self.message = message
    }

    public var description: String { "\(name): \(message)" }
}

/// A parsed `postgres://` URL.
public struct DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    /// How to use TLS, as libpq's `sslmode` names it.
    public enum TLSMode: String, Sendable, Hashable {
        /// Plain TCP.
        case disable
        /// TLS if the server offers it, certificate not checked.
        case prefer
        /// TLS or nothing, certificate not checked (encryption against eavesdropping).
        case require
        /// TLS with the certificate checked against trusted roots (`sslrootcert`, else the
        /// system's) and the host name: encryption and authentication.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// PEM file of the certificate authorities to trust with `verify-full` (e.g. the RDS bundle).
    public var rootCertificatePath: String?

    /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=…][&sslrootcert=PATH]`.
    public init(_ text: String) throws(URLError) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw URLError(message: "not a postgres:// URL")
        }
        guard let host = components.host, !host.isEmpty else { throw URLError(message: "no host in the URL") }
        guard let user = components.user, !user.isEmpty else { throw URLError(message: "no user in the URL") }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = path.isEmpty ? username : path
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        guard let tls = TLSMode(rawValue: mode) else {
            throw URLError(message: "sslmode=\(mode) is not one of disable, prefer, require, verify-full")
        }
        self.tls = tls
        rootCertificatePath = components.queryItems?.first { $0.name == "sslrootcert" }?.value
    }

    /// The URL without its password, for logs.
    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)?sslmode=\(tls.rawValue)" }

    /// Why a URL is not usable.
    public struct URLError: Error, Sendable {
        public var message: String
    }
}
