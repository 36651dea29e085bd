import Foundation
import HHProtocol
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat

/// The clinician web UI: server-rendered pages over the relay's store, signed in with a
/// server-side session cookie, every state change behind a CSRF token, every record read by
/// clinic (another clinic's id answers 404, as one that does not exist), and every view,
/// playback and export written to the audit log.
public struct WebUI: Sendable {
    let store: any RelayStore
    let objects: any ObjectStore
    let cookieSecure: Bool
    let idleLimit: TimeInterval
    let absoluteLimit: TimeInterval
    let behindProxy: Bool
    let throttle: SignInThrottle

    /// The web UI over `store` and `objects` with the configuration's cookie and expiry settings.
    public init(store: any RelayStore, objects: any ObjectStore, configuration: RelayConfiguration, throttle: SignInThrottle = SignInThrottle()) {
        self.store = store
        self.objects = objects
        cookieSecure = configuration.cookieSecure
        idleLimit = Double(configuration.webIdleMinutes) * 60
        absoluteLimit = Double(configuration.webAbsoluteHours) * 3600
        behindProxy = configuration.behindProxy
        self.throttle = throttle
    }

    static let sessionCookie = "hh_session"
    static let signInCookie = "hh_signin"
    /// The largest form body the UI reads.
    static let maximumFormBytes = 16 * 1024
    static let pageSize = 25

    /// The paths of the UI and the methods each allows (for 405).
    static let allowedMethods: [String: [HTTPRequest.Method]] = [
        "/": [.get, .head], "/login": [.get, .head, .post], "/logout": [.post], "/sessions": [.get, .head],
        "/sessions/*": [.get, .head], "/sessions/*/acknowledge": [.post], "/sessions/*/export.json": [.get, .head],
        "/sessions/*/export.csv": [.get, .head], "/sessions/*/export.fhir.json": [.get, .head], "/sessions/*/turns/*/audio/*": [.get, .head],
        "/kiosks": [.get, .head], "/kiosks/*/revoke": [.get, .head, .post], "/audit": [.get, .head], "/audit.csv": [.get, .head],
        "/static/app.css": [.get, .head], "/static/app.js": [.get, .head],
    ]

    /// Adds the UI's routes to `router`.
    public func register(on router: Router<RelayRequestContext>) {
        let web = router.group().add(middleware: WebPageMiddleware(ui: self))
        web.get("/") { _, _ in Self.redirect("/sessions") }
        web.get("/static/app.css") { _, _ in try Self.asset("app", "css", type: "text/css; charset=utf-8") }
        web.get("/static/app.js") { _, _ in try Self.asset("app", "js", type: "text/javascript; charset=utf-8") }
        web.get("/login") { request, context in try await loginPage(request, context: context) }
        web.post("/login") { request, context in try await signIn(request, context: context) }
        web.post("/logout") { request, context in try await signOut(request, context: context) }
        web.get("/sessions") { request, context in try await visitsPage(request, context: context) }
        web.get("/sessions/:id") { request, context in try await visitPage(request, context: context) }
        web.post("/sessions/:id/acknowledge") { request, context in try await acknowledge(request, context: context) }
        web.get("/sessions/:id/export.json") { request, context in try await export(request, context: context, format: .json) }
        web.get("/sessions/:id/export.csv") { request, context in try await export(request, context: context, format: .csv) }
        web.get("/sessions/:id/export.fhir.json") { request, context in try await export(request, context: context, format: .fhir) }
        web.get("/sessions/:id/turns/:turn/audio/:which") { request, context in try await audio(request, context: context) }
        web.get("/kiosks") { request, context in try await kiosksPage(request, context: context) }
        web.get("/kiosks/:id/revoke") { request, context in try await confirmRevoke(request, context: context) }
        web.post("/kiosks/:id/revoke") { request, context in try await revoke(request, context: context) }
        web.get("/audit") { request, context in try await auditPage(request, context: context) }
        web.get("/audit.csv") { request, context in try await auditCSV(request, context: context) }
    }

    // MARK: Sessions and sign-in

    /// The signed-in viewer of the request, or ``WebError/signInRequired``. A session past its
    /// idle or absolute limit is removed and counts as none.
    func viewer(_ request: Request, now: Date = Date()) async throws -> Viewer {
        guard let token = request.cookies[Self.sessionCookie]?.value, !token.isEmpty else { throw WebError.signInRequired(request.uri.path) }
        let hash = WebToken.hash(token)
        guard let (session, account) = try await store.webSession(tokenHash: hash) else { throw WebError.signInRequired(request.uri.path) }
        if now.timeIntervalSince(session.lastSeenAt) > idleLimit || now.timeIntervalSince(session.createdAt) > absoluteLimit {
            try await store.deleteWebSession(tokenHash: hash)
            throw WebError.signInRequired(request.uri.path)
        }
        // Seen again: written at most once a minute, not on every request.
        if now.timeIntervalSince(session.lastSeenAt) > 60 { try await store.touchWebSession(tokenHash: hash, at: now) }
        return Viewer(account: account, session: session)
    }

    /// The form of a state-changing request, after its CSRF token matched the session's.
    func checkedForm(_ request: Request, viewer: Viewer) async throws -> FormFields {
        let form = try await Self.form(request)
        guard let token = form["csrf"], WebToken.equal(token, viewer.session.csrfToken) else { throw WebError.forbidden }
        return form
    }

    static func form(_ request: Request) async throws -> FormFields {
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: maximumFormBytes) } catch { throw WebError.tooLarge }
        return FormFields(String(decoding: body.readableBytesView, as: UTF8.self))
    }

    func loginPage(_ request: Request, context: RelayRequestContext) async throws -> Response {
        if (try? await viewer(request)) != nil { return Self.redirect("/sessions") }
        let token = WebToken.make()
        var response = Self.page(Pages.login(csrf: token, next: SafeRedirect.path(request.uri.queryParameters["next"].map(String.init))))
        response.setCookie(signInCookie(token))
        return response
    }

    private func signInCookie(_ token: String) -> Cookie {
        Cookie(name: Self.signInCookie, value: token, maxAge: 3600, path: "/login", secure: cookieSecure, httpOnly: true, sameSite: .strict)
    }

    func signIn(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let form = try await Self.form(request)
        // The sign-in form's token must match the cookie set with the form (a page of this site
        // posted it, not another site's form).
        guard let cookie = request.cookies[Self.signInCookie]?.value, let token = form["csrf"], WebToken.equal(cookie, token) else {
            throw WebError.forbidden
        }
        let email = (form["email"] ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        let password = form["password"] ?? ""
        let next = SafeRedirect.path(form["next"])
        let address = context.clientAddress(of: request, trustingForwardedFor: behindProxy)
        let keys = ["account:" + email, "address:" + address]
        func refuse(_ status: HTTPResponse.Status, _ message: String) -> Response {
            let fresh = WebToken.make()
            var response = Self.page(Pages.login(csrf: fresh, email: email, next: next, message: message), status: status)
            response.setCookie(signInCookie(fresh))
            return response
        }
        if let wait = throttle.wait(for: keys) {
            let minutes = max(1, Int((Double(wait.components.seconds) / 60).rounded(.up)))
            var response = refuse(.tooManyRequests, "Too many failed sign-ins. Try again in \(minutes) minute\(minutes == 1 ? "" : "s").")
            response.headers[.retryAfter] = String(wait.components.seconds + 1)
            return response
        }
        let account = try await store.account(email: email)
        // An unknown address costs the same time as a wrong password.
        let good = PasswordHash.verify(password, against: account?.passwordHash ?? PasswordHash.decoy) && account != nil
        guard good, let account else {
            throttle.fail(keys)
            return refuse(.unauthorized, "The e-mail address or the password is not right.")
        }
        throttle.succeed("account:" + email)
        let secret = WebToken.make(), now = Date()
        let session = WebSession(tokenHash: WebToken.hash(secret), userID: account.id, csrfToken: WebToken.make(), createdAt: now, lastSeenAt: now)
        try await store.createWebSession(session)
        try await store.deleteExpiredWebSessions(lastSeenBefore: now.addingTimeInterval(-idleLimit), createdBefore: now.addingTimeInterval(-absoluteLimit))
        try await audit(Viewer(account: account, session: session), "sign_in", "", request: request, context: context)
        var response = Self.redirect(next)
        response.setCookie(Cookie(name: Self.sessionCookie, value: secret, path: "/", secure: cookieSecure, httpOnly: true, sameSite: .lax))
        response.setCookie(Cookie(name: Self.signInCookie, value: "", maxAge: 0, path: "/login", secure: cookieSecure, httpOnly: true, sameSite: .strict))
        return response
    }

    func signOut(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let viewer = try await viewer(request)
        _ = try await checkedForm(request, viewer: viewer)
        try await store.deleteWebSession(tokenHash: viewer.session.tokenHash)
        try await audit(viewer, "sign_out", "", request: request, context: context)
        var response = Self.redirect("/login")
        response.setCookie(Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/", secure: cookieSecure, httpOnly: true, sameSite: .lax))
        return response
    }

    // MARK: Visits

    func visitsPage(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let viewer = try await viewer(request)
        let parameters = request.uri.queryParameters
        let clinic = viewer.account.clinicID
        var query = VisitQuery(clinicID: clinic, limit: Self.pageSize + 1)
        var filters: [String] = []
        if let kiosk = parameters["kiosk"].map(String.init), !kiosk.isEmpty {
            query.deviceID = kiosk
            filters.append("kiosk=\(Self.percentEncoded(kiosk))")
        }
        let fromText = parameters["from"].map(String.init) ?? "", toText = parameters["to"].map(String.init) ?? ""
        if let from = Self.day(fromText) {
            query.from = from
            filters.append("from=\(fromText)")
        }
        if let to = Self.day(toText) {
            query.until = to.addingTimeInterval(86_400)
            filters.append("to=\(toText)")
        }
        if let cursor = parameters["after"].flatMap({ Self.cursor(String($0)) }) { query.after = cursor }
        var visits = try await store.visits(query)
        var next: VisitCursor?
        if visits.count > Self.pageSize {
            visits.removeLast()
            next = visits.last?.cursor
        }
        let pinned = query.after == nil ? try await store.unacknowledgedEscalations(clinicID: clinic, limit: 20) : []
        let kiosks = try await store.kiosks(clinicID: clinic, sessionsSince: Date())
        return Self.page(Pages.visits(
            Pages.VisitsPage(
                visits: visits, pinned: pinned, kiosks: kiosks, query: query, filterQuery: filters.joined(separator: "&"), fromText: Self.day(fromText) == nil ? "" : fromText,
                toText: Self.day(toText) == nil ? "" : toText, next: next),
            viewer: viewer))
    }

    /// The visit `id` of the viewer's clinic and its document, or 404.
    func visitOfViewer(_ id: String, viewer: Viewer) async throws -> (VisitListing, StoredSession, SessionDocument) {
        let id = id.lowercased()
        guard let visit = try await store.visit(id: id, clinicID: viewer.account.clinicID), let stored = try await store.session(id: id),
              stored.clinicID == viewer.account.clinicID
        else { throw WebError.notFound }
        guard let document = try? WireJSON.decoder().decode(SessionDocument.self, from: Data(stored.document.utf8)) else { throw WebError.notFound }
        return (visit, stored, document)
    }

    func visitPage(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let viewer = try await viewer(request)
        let (visit, _, document) = try await visitOfViewer(context.parameters.get("id") ?? "", viewer: viewer)
        let turns = try await store.turns(sessionID: visit.id).filter { $0.clinicID == viewer.account.clinicID }
        let summary = try await store.summary(sessionID: visit.id), job = try await store.summaryJob(sessionID: visit.id)
        try await audit(viewer, "view_visit", visit.id, request: request, context: context)
        return Self.page(Pages.visit(Pages.VisitPage(visit: visit, document: document, turns: turns, summary: summary, summaryJob: job), viewer: viewer))
    }

    func acknowledge(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let viewer = try await viewer(request)
        let form = try await checkedForm(request, viewer: viewer)
        let id = (context.parameters.get("id") ?? "").lowercased()
        guard try await store.acknowledgeEscalation(sessionID: id, clinicID: viewer.account.clinicID, userID: viewer.account.id, at: Date()) else {
            throw WebError.notFound
        }
        try await audit(viewer, "acknowledge", id, request: request, context: context)
        return Self.redirect(SafeRedirect.path(form["next"]))
    }

    enum ExportFormat: String { case json, csv, fhir }

    func export(_ request: Request, context: RelayRequestContext, format: ExportFormat) async throws -> Response {
        let viewer = try await viewer(request)
        let (visit, stored, document) = try await visitOfViewer(context.parameters.get("id") ?? "", viewer: viewer)
        try await audit(viewer, "export_visit", "\(visit.id) (\(format.rawValue))", request: request, context: context)
        let (body, type, suffix): (ByteBuffer, String, String) = switch format {
        case .json: (ByteBuffer(string: stored.document), "application/json", "json")
        case .csv: (ByteBuffer(string: VisitExport.csv(document)), "text/csv; charset=utf-8", "csv")
        case .fhir: (ByteBuffer(data: try VisitExport.fhirBundle(document, deviceID: visit.deviceID, deviceName: visit.deviceName)), "application/fhir+json", "fhir.json")
        }
        return Response(
            status: .ok,
            headers: [.contentType: type, .contentDisposition: "attachment; filename=\"visit-\(visit.id).\(suffix)\"", .cacheControl: "no-store"],
            body: .init(byteBuffer: body))
    }

    func audio(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let viewer = try await viewer(request)
        let sessionID = (context.parameters.get("id") ?? "").lowercased(), turnID = context.parameters.get("turn") ?? ""
        let file: String = switch context.parameters.get("which") {
        case "patient": "question.wav"
        case "reply": "reply.wav"
        default: throw WebError.notFound
        }
        guard let turn = try await store.turn(id: turnID), turn.sessionID == sessionID, turn.clinicID == viewer.account.clinicID,
              let key = turn.audioKeys.first(where: { $0.hasSuffix("/" + file) }).flatMap({ try? ObjectKey($0) }),
              let audio = try await objects.get(key)
        else { throw WebError.notFound }
        try await audit(viewer, "play_audio", "\(sessionID)/\(turnID)/\(file)", request: request, context: context)
        return Response(status: .ok, headers: [.contentType: "audio/wav", .cacheControl: "private, no-store"], body: .init(byteBuffer: audio))
    }

    // MARK: Admin

    func admin(_ request: Request) async throws -> Viewer {
        let viewer = try await viewer(request)
        guard viewer.isAdmin else { throw WebError.notFound }
        return viewer
    }

    func kiosksPage(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let viewer = try await admin(request)
        let kiosks = try await store.kiosks(clinicID: viewer.account.clinicID, sessionsSince: Calendar(identifier: .gregorian).startOfDay(for: Date()))
        return Self.page(Pages.kiosks(kiosks, viewer: viewer))
    }

    func kioskOfViewer(_ request: Request, context: RelayRequestContext, viewer: Viewer) async throws -> Device {
        guard let device = try await store.device(id: context.parameters.get("id") ?? ""), device.clinicID == viewer.account.clinicID else {
            throw WebError.notFound
        }
        return device
    }

    func confirmRevoke(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let viewer = try await admin(request)
        return Self.page(Pages.confirmRevoke(try await kioskOfViewer(request, context: context, viewer: viewer), viewer: viewer))
    }

    func revoke(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let viewer = try await admin(request)
        _ = try await checkedForm(request, viewer: viewer)
        let device = try await kioskOfViewer(request, context: context, viewer: viewer)
        _ = try await store.revokeDevice(id: device.id)
        try await audit(viewer, "revoke_kiosk", device.id, request: request, context: context)
        return Self.redirect("/kiosks")
    }

    func auditPage(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let viewer = try await admin(request)
        let before = request.uri.queryParameters["before"].flatMap { Int64(String($0)) }
        var entries = try await store.audit(clinicID: viewer.account.clinicID, before: before, limit: 101)
        var next: Int64?
        if entries.count > 100 {
            entries.removeLast()
            next = entries.last?.sequence
        }
        return Self.page(Pages.audit(entries, next: next, viewer: viewer))
    }

    func auditCSV(_ request: Request, context: RelayRequestContext) async throws -> Response {
        let viewer = try await admin(request)
        try await audit(viewer, "export_audit", "", request: request, context: context)
        var lines = ["time_utc,email,action,record,address"]
        var before: Int64?
        repeat {
            let entries = try await store.audit(clinicID: viewer.account.clinicID, before: before, limit: 1000)
            for entry in entries {
                lines.append([VisitExport.timestamp(entry.at), entry.email, entry.action, entry.subject, entry.address].map(Self.csvField).joined(separator: ","))
            }
            before = entries.count == 1000 ? entries.last?.sequence : nil
        } while before != nil
        return Response(
            status: .ok,
            headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"audit-log.csv\"", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: lines.joined(separator: "\n") + "\n")))
    }

    // MARK: Helpers

    func audit(_ viewer: Viewer, _ action: String, _ subject: String, request: Request, context: RelayRequestContext) async throws {
        try await store.appendAudit(AuditEntry(
            at: Date(), clinicID: viewer.account.clinicID, userID: viewer.account.id, email: viewer.account.email, action: action, subject: subject,
            address: context.clientAddress(of: request, trustingForwardedFor: behindProxy)))
    }

    /// A CSV field, quoted when it must be, and never read as a formula by a spreadsheet.
    static func csvField(_ text: String) -> String {
        var text = text
        if let first = text.first, "=+-@\t\r".contains(first) { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func page(_ html: HTML, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html.description)))
    }

    static func redirect(_ path: String) -> Response {
        Response(status: .seeOther, headers: [.location: path, .cacheControl: "no-store"])
    }

    static func asset(_ name: String, _ suffix: String, type: String) throws -> Response {
        guard let url = Bundle.module.url(forResource: "web/\(name)", withExtension: suffix), let data = try? Data(contentsOf: url) else {
            throw WebError.notFound
        }
        return Response(status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=300"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// `YYYY-MM-DD` as the start of that day (UTC).
    static func day(_ text: String) -> Date? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, text.count == 10, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        var components = DateComponents(year: parts[0], month: parts[1], day: parts[2])
        components.timeZone = .gmt
        return Calendar(identifier: .gregorian).date(from: components)
    }

    /// `<milliseconds>_<id>` as a cursor.
    static func cursor(_ text: String) -> VisitCursor? {
        let parts = text.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, let milliseconds = Int64(parts[0]) else { return nil }
        return VisitCursor(startedAt: Date(timeIntervalSince1970: Double(milliseconds) / 1000), id: String(parts[1]))
    }

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }
}

/// What a page request can fail with, as the browser is told.
enum WebError: Error {
    /// No signed-in session: to the sign-in page, then back to `path`.
    case signInRequired(String)
    /// Not found, or another clinic's (the same answer).
    case notFound
    /// A state change without its CSRF token.
    case forbidden
    /// A form larger than the UI reads.
    case tooLarge
}

/// The UI's outer layer: security headers on every page and asset, and failures as pages
/// (sign-in redirects, 404, 403) rather than the device API's JSON.
struct WebPageMiddleware: RouterMiddleware {
    typealias Context = RelayRequestContext
    let ui: WebUI

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as WebError {
            // A signed-in viewer keeps the navigation on an error page.
            let viewer: Viewer? = if case .signInRequired = error { nil } else { try? await ui.viewer(request) }
            switch error {
            case .signInRequired(let path):
                response = WebUI.redirect("/login?next=\(WebUI.percentEncoded(SafeRedirect.path(path)))")
            case .notFound:
                response = WebUI.page(Pages.error(title: "Not found", message: "There is no such page or record.", viewer: viewer), status: .notFound)
            case .forbidden:
                response = WebUI.page(
                    Pages.error(title: "Refused", message: "The form was not accepted (its security token was missing or out of date). Nothing was changed; go back, reload the page and try again.", viewer: viewer),
                    status: .forbidden)
            case .tooLarge:
                response = WebUI.page(Pages.error(title: "Too large", message: "The form was larger than this site accepts.", viewer: viewer), status: .contentTooLarge)
            }
        } catch let error as RelayStoreError {
            context.logger.error("web page failed", metadata: ["error": "\(error)"])
            response = WebUI.page(
                Pages.error(title: "Unavailable", message: "The records cannot be read just now. Try again in a minute.", viewer: nil),
                status: .serviceUnavailable)
        }
        response.headers[.init("Content-Security-Policy")!] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("Referrer-Policy")!] = "same-origin"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        // The server's own time for the page (the browser's developer tools and the benchmark read it).
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        response.headers[.init("Server-Timing")!] = "app;dur=\(String(format: "%.2f", milliseconds))"
        if ui.cookieSecure { response.headers[.init("Strict-Transport-Security")!] = "max-age=31536000; includeSubDomains" }
        return response
    }
}
