import Foundation
import HHProtocol

/// Who is looking at a page: the signed-in account and its browser session.
struct Viewer: Sendable {
    var account: ClinicianAccount
    var session: WebSession
    var isAdmin: Bool { account.role == .admin }
}

/// The web UI's pages, rendered on the server from plain values (no I/O here).
enum Pages {
    // MARK: Layout

    static func layout(title: String, viewer: Viewer?, section: String = "", live: Bool = false, _ content: HTML) -> HTML {
        var navigation: HTML = ""
        if let viewer {
            func link(_ path: String, _ name: String, _ key: String) -> HTML {
                section == key ? "<a href=\"\(path)\" aria-current=\"page\">\(name)</a>" : "<a href=\"\(path)\">\(name)</a>"
            }
            var links = [link("/sessions", "Visits", "sessions")]
            if viewer.isAdmin { links += [link("/kiosks", "Kiosks", "kiosks"), link("/audit", "Audit log", "audit")] }
            navigation = """
                <nav aria-label="Main">\(links)</nav>
                <form class="signout" method="post" action="/logout">\(csrfField(viewer))\
                <span class="who">\(viewer.account.email)</span> <button type="submit">Sign out</button></form>
                """
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Health Helper</title>
            <link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script></head>
            <body\(live ? " data-live=\"15\"" : "" as HTML)><a class="skip" href="#main">Skip to content</a>
            <header class="top"><a class="brand" href="/sessions">Health Helper</a>\(navigation)</header>
            <main id="main">\(content)</main>
            </body></html>
            """
    }

    static func csrfField(_ viewer: Viewer) -> HTML {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(viewer.session.csrfToken)\">"
    }

    /// A time the browser shows in its own zone (app.js); UTC without JavaScript.
    static func time(_ date: Date, dateOnly: Bool = false) -> HTML {
        let iso = Date.ISO8601FormatStyle().format(date)
        let style = Date.VerbatimFormatStyle(
            format: dateOnly ? "\(year: .defaultDigits)-\(month: .twoDigits)-\(day: .twoDigits)"
                : "\(year: .defaultDigits)-\(month: .twoDigits)-\(day: .twoDigits) \(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits) UTC",
            timeZone: .gmt, calendar: Calendar(identifier: .gregorian))
        return "<time datetime=\"\(iso)\"\(dateOnly ? " data-date-only" : "" as HTML)>\(style.format(date))</time>"
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        guard whole >= 60 else { return "\(whole) s" }
        return whole % 60 == 0 ? "\(whole / 60) min" : "\(whole / 60) min \(whole % 60) s"
    }

    static func heartRate(_ bpm: Double?, snr: Double?) -> HTML {
        guard let bpm else { return "<span class=\"muted\">no estimate</span>" }
        let quality = ReadingQuality(snrDb: snr)
        return "\(Int(bpm.rounded())) bpm <span class=\"quality q-\(quality.rawValue)\">\(quality.rawValue)</span>"
    }

    // MARK: Sign-in and errors

    static func login(csrf: String, email: String = "", next: String, message: String? = nil) -> HTML {
        let alert: HTML = message.map { "<p class=\"alert\" role=\"alert\">\($0)</p>" } ?? ""
        return layout(title: "Sign in", viewer: nil, """
            <section class="signin"><h1>Sign in</h1>\(alert)
            <form method="post" action="/login">
            <input type="hidden" name="csrf" value="\(csrf)"><input type="hidden" name="next" value="\(next)">
            <label for="email">E-mail</label><input id="email" name="email" type="email" autocomplete="email" required value="\(email)">
            <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
            <button type="submit">Sign in</button></form></section>
            """)
    }

    static func error(title: String, message: String, viewer: Viewer?) -> HTML {
        layout(title: title, viewer: viewer, """
            <h1>\(title)</h1><p>\(message)</p><p><a href="/sessions">Back to the visits</a></p>
            """)
    }

    // MARK: Visits

    struct VisitsPage {
        var visits: [VisitListing]
        var pinned: [VisitListing]
        var kiosks: [KioskListing]
        var query: VisitQuery
        /// The query string of the filters (without the cursor).
        var filterQuery: String
        var fromText: String
        var toText: String
        var next: VisitCursor?
    }

    static func visitRow(_ visit: VisitListing, viewer: Viewer, pinned: Bool) -> HTML {
        let escalation: HTML
        if visit.escalated {
            if let acknowledged = visit.acknowledgedAt {
                escalation = "<span class=\"flag acknowledged\">Escalated · acknowledged \(time(acknowledged))</span>"
            } else if pinned {
                escalation = """
                    <span class="flag escalated">Escalated</span>
                    <form class="inline" method="post" action="/sessions/\(visit.id)/acknowledge">\(csrfField(viewer))\
                    <input type="hidden" name="next" value="/sessions"><button type="submit">Acknowledge<span class="visually-hidden"> the escalation of the visit at \(visit.deviceName)</span></button></form>
                    """
            } else {
                escalation = "<span class=\"flag escalated\">Escalated</span>"
            }
        } else {
            escalation = "<span class=\"muted\">none</span>"
        }
        return """
            <tr\(visit.escalated && visit.acknowledgedAt == nil ? " class=\"escalated-row\"" : "" as HTML)>\
            <td><a href="/sessions/\(visit.id)">\(time(visit.startedAt))</a></td><td>\(visit.deviceName)</td>\
            <td>\(duration(visit.endedAt.timeIntervalSince(visit.startedAt)))</td>\
            <td>\(heartRate(visit.heartRateMedianBpm, snr: visit.snrMedianDb))</td><td>\(visit.turnCount)</td>\
            <td>\(summaryState(visit.summaryState))</td><td>\(escalation)</td></tr>
            """
    }

    static func summaryState(_ state: SummaryJobState?) -> HTML {
        switch state {
        case .done: "written"
        case .queued, .running: "<span class=\"muted\">being written</span>"
        case .failed: "<span class=\"flag revoked\">failed</span>"
        case nil: "<span class=\"muted\">none</span>"
        }
    }

    static let visitHeader: HTML = """
        <thead><tr><th scope="col">Started</th><th scope="col">Kiosk</th><th scope="col">Duration</th><th scope="col">Heart rate (median)</th>\
        <th scope="col">Voice turns</th><th scope="col">Summary</th><th scope="col">Escalation</th></tr></thead>
        """

    static func visits(_ page: VisitsPage, viewer: Viewer) -> HTML {
        let options: [HTML] = page.kiosks.map {
            "<option value=\"\($0.device.id)\"\(page.query.deviceID == $0.device.id ? " selected" : "" as HTML)>\($0.device.name)</option>"
        }
        var pinned: HTML = ""
        if !page.pinned.isEmpty {
            pinned = """
                <section class="attention" aria-labelledby="attention-title"><h2 id="attention-title">Needs attention</h2>
                <div class="table-wrap"><table><caption class="visually-hidden">Escalated visits not yet acknowledged</caption>\(visitHeader)<tbody>\
                \(page.pinned.map { visitRow($0, viewer: viewer, pinned: true) })</tbody></table></div></section>
                """
        }
        let rows: HTML = page.visits.isEmpty
            ? "<tr><td colspan=\"7\" class=\"empty\">No visits match.</td></tr>"
            : "\(page.visits.map { visitRow($0, viewer: viewer, pinned: false) })"
        var pager: [HTML] = []
        if page.query.after != nil { pager.append("<a href=\"/sessions?\(page.filterQuery)\">Newest visits</a>") }
        if let next = page.next {
            let cursor = "\(Int64((next.startedAt.timeIntervalSince1970 * 1000).rounded()))_\(next.id)"
            pager.append("<a rel=\"next\" href=\"/sessions?\(page.filterQuery)\(page.filterQuery.isEmpty ? "" : "&")after=\(cursor)\">Older visits</a>")
        }
        return layout(title: "Visits", viewer: viewer, section: "sessions", live: page.query.after == nil, """
            <h1>Visits</h1>\(pinned)
            <form class="filters" method="get" action="/sessions" aria-label="Filter visits">
            <label for="kiosk">Kiosk</label><select id="kiosk" name="kiosk"><option value="">All kiosks</option>\(options)</select>
            <label for="from">From</label><input id="from" name="from" type="date" value="\(page.fromText)">
            <label for="to">To</label><input id="to" name="to" type="date" value="\(page.toText)">
            <button type="submit">Show</button></form>
            <section id="visits" aria-live="polite"><div class="table-wrap"><table><caption class="visually-hidden">Visits, newest first</caption>\(visitHeader)<tbody>\(rows)</tbody></table></div>
            <nav class="pager" aria-label="Pages">\(pager)</nav></section>
            """)
    }

    // MARK: One visit

    struct VisitPage {
        var visit: VisitListing
        var document: SessionDocument
        var turns: [StoredTurn]
        var summary: StoredSummary?
        var summaryJob: SummaryJob?
    }

    static func summarySection(_ page: VisitPage) -> HTML {
        let state: HTML
        if page.summaryJob?.state == .failed {
            state = "<p class=\"alert\">The summary could not be written: \(page.summaryJob?.lastError ?? "no reason given").</p>"
        } else if page.summaryJob.map({ $0.state == .queued || $0.state == .running }) == true {
            state = "<p class=\"muted\">A newer summary is being written.</p>"
        } else {
            state = ""
        }
        guard let summary = page.summary else {
            return state == "" ? "<p class=\"empty\">No summary has been written for this visit yet.</p>" : state
        }
        let source: HTML = summary.isOffline
            ? "Written offline by the relay's template (\(summary.promptVersion)), not by a language model"
            : "Written by \(summary.model) with prompt \(summary.promptVersion)"
        let paragraphs: [HTML] = summary.text.split(separator: "\n").map { "<p>\(String($0))</p>" }
        return "\(state)<div class=\"summary\">\(paragraphs)</div><p class=\"summary-source\">\(source), \(time(summary.createdAt)).</p>"
    }

    static func visit(_ page: VisitPage, viewer: Viewer) -> HTML {
        let visit = page.visit, document = page.document, summary = document.summary
        var banner: HTML = ""
        if visit.escalated {
            if let acknowledged = visit.acknowledgedAt {
                banner = "<p class=\"banner acknowledged\">This visit raised an emergency; it was acknowledged \(time(acknowledged)).</p>"
            } else {
                banner = """
                    <div class="banner escalated" role="alert"><strong>This visit raised an emergency.</strong>
                    <form class="inline" method="post" action="/sessions/\(visit.id)/acknowledge">\(csrfField(viewer))\
                    <input type="hidden" name="next" value="/sessions/\(visit.id)"><button type="submit">Acknowledge</button></form></div>
                    """
            }
        }
        func fact(_ name: String, _ value: HTML) -> HTML { "<dl><dt>\(name)</dt><dd>\(value)</dd></dl>" }
        func number(_ value: Double?, _ unit: String) -> HTML {
            value.map { "\(String(format: "%.1f", $0)) \(unit)" } ?? "<span class=\"muted\">none</span>"
        }
        var facts: [HTML] = [
            fact("Started", time(document.startedAt)), fact("Duration", "\(duration(document.endedAt.timeIntervalSince(document.startedAt)))"),
            fact("Kiosk", "\(visit.deviceName)"), fact("Ended because", "\(document.endReason.rawValue.replacingOccurrences(of: "_", with: " "))"),
            fact("Heart rate, median", heartRate(summary.heartRateMedianBpm, snr: summary.snrMedianDb)),
            fact("Heart rate, range", summary.heartRateMinBpm.flatMap { low in summary.heartRateMaxBpm.map { "\(Int(low.rounded()))–\(Int($0.rounded())) bpm" } }
                .map { "\($0)" } ?? "<span class=\"muted\">none</span>"),
            fact("Seconds with an estimate", "\(summary.secondsWithEstimate) of \(Int(document.endedAt.timeIntervalSince(document.startedAt).rounded()))"),
            fact("Respiration, median", number(summary.respirationMedianBpm, "breaths/min")),
        ]
        if let variability = summary.variability {
            facts.append(fact("HRV (RMSSD / SDNN)", "\(String(format: "%.0f", variability.rmssdMs)) / \(String(format: "%.0f", variability.sdnnMs)) ms"))
        }
        facts.append(fact("Software", "\(document.metadata.softwareVersion) · \(document.metadata.pulseMethod)"))

        let conversation: HTML
        if page.turns.isEmpty {
            conversation = "<p class=\"empty\">No voice turns in this visit.</p>"
        } else {
            conversation = "<ol class=\"transcript\">\(page.turns.map { turnItem($0, visitID: visit.id, startedAt: document.startedAt) })</ol>"
        }
        let respiration = VitalsChart.respiration(document).map { "<h3>Respiration</h3>\($0.svg())" as HTML } ?? ""
        return layout(title: "Visit", viewer: viewer, section: "sessions", """
            <p class="back"><a href="/sessions">← All visits</a></p>
            <h1>Visit at \(visit.deviceName), \(time(document.startedAt))</h1>\(banner)
            <div class="facts">\(facts)</div>
            <section aria-labelledby="vitals-title"><h2 id="vitals-title">Vital signs</h2>
            <h3>Heart rate</h3>\(VitalsChart.heartRate(document).svg())
            <p class="legend"><span class="key key-line"></span> estimate <span class="key key-weak"></span> weak estimate (low signal) \
            <span class="key key-median"></span> median; gaps: no estimate.</p>\(respiration)</section>
            <section aria-labelledby="conversation-title"><h2 id="conversation-title">Conversation</h2>\(conversation)</section>
            <section aria-labelledby="summary-title"><h2 id="summary-title">Summary</h2>
            \(summarySection(page))</section>
            <section aria-labelledby="export-title"><h2 id="export-title">Export</h2><ul class="exports">
            <li><a href="/sessions/\(visit.id)/export.json" download>Session document (JSON)</a></li>
            <li><a href="/sessions/\(visit.id)/export.csv" download>Heart-rate series (CSV)</a></li>
            <li><a href="/sessions/\(visit.id)/export.fhir.json" download>FHIR R4 Bundle of Observations</a></li></ul></section>
            """)
    }

    static func turnItem(_ turn: StoredTurn, visitID: String, startedAt: Date) -> HTML {
        let offset = max(0, turn.startedAt.timeIntervalSince(startedAt))
        let at = String(format: "%d:%02d", Int(offset) / 60, Int(offset) % 60)
        let flag: HTML = turn.escalationReason.map { "<span class=\"flag escalated\">Emergency: \($0.replacingOccurrences(of: "_", with: " "))</span>" } ?? ""
        func player(_ which: String, _ label: String) -> HTML {
            guard turn.audioKeys.contains(where: { $0.hasSuffix("/\(which == "patient" ? "question" : "reply").wav") }) else { return "" }
            return "<audio controls preload=\"none\" src=\"/sessions/\(visitID)/turns/\(turn.id)/audio/\(which)\" aria-label=\"\(label)\"></audio>"
        }
        return """
            <li class="turn"><p class="at">\(at)</p>\(flag)
            <div class="said patient"><p class="who">Patient</p><p class="words">\(turn.transcript.isEmpty ? "(nothing recognised)" : turn.transcript)</p>\
            \(player("patient", "The patient's words at \(at)"))</div>
            <div class="said kiosk"><p class="who">Kiosk</p><p class="words">\(turn.replyText)</p>\(player("reply", "The kiosk's reply at \(at)"))</div></li>
            """
    }

    // MARK: Admin

    static func kiosks(_ kiosks: [KioskListing], viewer: Viewer) -> HTML {
        let rows: [HTML] = kiosks.map { kiosk in
            let status: HTML = kiosk.device.revokedAt.map { "<span class=\"flag revoked\">revoked \(time($0))</span>" }
                ?? "<a class=\"danger-link\" href=\"/kiosks/\(kiosk.device.id)/revoke\">Revoke<span class=\"visually-hidden\"> \(kiosk.device.name)</span></a>"
            return """
                <tr><td>\(kiosk.device.name)</td><td><code>\(kiosk.device.id)</code></td>\
                <td>\(kiosk.lastContact.map { time($0) } ?? "<span class=\"muted\">never</span>")</td>\
                <td>\(kiosk.softwareVersion ?? "unknown" as String)</td><td>\(kiosk.sessionsSince)</td><td>\(status)</td></tr>
                """
        }
        return layout(title: "Kiosks", viewer: viewer, section: "kiosks", """
            <h1>Kiosks</h1><div class="table-wrap"><table><caption class="visually-hidden">The clinic's kiosks</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Id</th><th scope="col">Last contact</th><th scope="col">Software</th>\
            <th scope="col">Visits today</th><th scope="col">Access</th></tr></thead>
            <tbody>\(rows.isEmpty ? ["<tr><td colspan=\"6\" class=\"empty\">No kiosks.</td></tr>"] : rows)</tbody></table></div>
            """)
    }

    static func confirmRevoke(_ device: Device, viewer: Viewer) -> HTML {
        layout(title: "Revoke a kiosk", viewer: viewer, section: "kiosks", """
            <h1>Revoke \(device.name)?</h1>
            <p>The kiosk <code>\(device.id)</code> will no longer be able to send visits or voice turns. It needs a new token to be enrolled again.</p>
            <form method="post" action="/kiosks/\(device.id)/revoke">\(csrfField(viewer))
            <button class="danger" type="submit">Revoke \(device.name)</button> <a href="/kiosks">Cancel</a></form>
            """)
    }

    static func audit(_ entries: [AuditEntry], next: Int64?, viewer: Viewer) -> HTML {
        let rows: [HTML] = entries.map {
            "<tr><td>\(time($0.at))</td><td>\($0.email)</td><td>\($0.action.replacingOccurrences(of: "_", with: " "))</td><td>\($0.subject)</td><td>\($0.address)</td></tr>"
        }
        let pager: HTML = next.map { sequence -> HTML in
            "<nav class=\"pager\" aria-label=\"Pages\"><a rel=\"next\" href=\"/audit?before=\(String(sequence))\">Older entries</a></nav>"
        } ?? ""
        return layout(title: "Audit log", viewer: viewer, section: "audit", """
            <h1>Audit log</h1><p><a href="/audit.csv" download>Download the audit log (CSV)</a></p>
            <div class="table-wrap"><table><caption class="visually-hidden">Who viewed, played or exported what, newest first</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Record</th><th scope="col">From</th></tr></thead>
            <tbody>\(rows.isEmpty ? ["<tr><td colspan=\"5\" class=\"empty\">Nothing yet.</td></tr>"] : rows)</tbody></table></div>\(pager)
            """)
    }
}
