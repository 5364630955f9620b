import Residency

extension MeetingReport {
    /// A self-contained HTML page (no scripts, no external resources) describing where the
    /// meeting's data went, with an inline SVG route diagram: one column per jurisdiction,
    /// a box per node, arrows for relay links. Every value is HTML-escaped.
    public func html(verified: Bool? = nil) -> String {
        let s = summary
        var h = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Where this meeting's data went</title>
        <style>
        body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.45}
        table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
        .ok{color:#0a6b2d;font-weight:600}.bad{color:#a4161a;font-weight:600}code{font-size:.85em;word-break:break-all}
        .verdict{padding:.75rem 1rem;border-radius:.4rem;margin:1rem 0}.verdict.ok{background:#e6f4ea}.verdict.bad{background:#fde8e8}
        </style></head><body>
        <h1>Where this meeting's data went</h1>
        <p>Meeting <code>\(esc(meeting.hex))</code> (a tenant-keyed commitment, not the meeting's name).
        Report generated \(esc(generatedAt.description)).</p>

        """
        if s.compliance.compliant {
            h += "<div class=\"verdict ok\">Every recorded hop and stored artifact complied with the tenant's residency policy.</div>\n"
        } else {
            h += "<div class=\"verdict bad\">\(s.compliance.violations.count) hop(s) or artifact(s) did not comply with the policy in force. Details below.</div>\n"
        }
        if let verified {
            h += verified
                ? "<p class=\"ok\">The signature and every inclusion proof in this report were verified.</p>\n"
                : "<p class=\"bad\">This report failed verification; do not rely on it.</p>\n"
        } else {
            h += "<p>Check this report yourself: <code>demarc transparency verify report.json --key NODE_OR_OPERATOR_KEY</code>.</p>\n"
        }

        h += "<h2>By jurisdiction</h2>\n<table><tr><th>Jurisdiction</th><th>What</th><th>Regions</th><th>From</th><th>Until</th></tr>\n"
        for j in s.jurisdictions {
            h += "<tr><td>\(esc(j.jurisdiction.rawValue))</td><td>\(esc(j.categories.map(\.description).joined(separator: ", ")))</td>"
            h += "<td>\(esc(j.regions.map(\.rawValue).joined(separator: ", ")))</td><td>\(esc(j.from.description))</td><td>\(esc(j.until.description))</td></tr>\n"
        }
        h += "</table>\n"
        h += routeDiagram()

        h += "<h2>Nodes</h2>\n<table><tr><th>Node</th><th>Region</th><th>Jurisdiction</th><th>What</th><th>From</th><th>Until</th></tr>\n"
        for w in s.processing {
            h += "<tr><td>\(esc(w.location.node.rawValue))</td><td>\(esc(w.location.region.rawValue))</td><td>\(esc(w.location.jurisdiction.rawValue))</td>"
            h += "<td>\(esc(w.categories.map(\.description).joined(separator: ", ")))</td><td>\(esc(w.from.description))</td><td>\(esc(w.until.description))</td></tr>\n"
        }
        h += "</table>\n"

        if let e2ee = s.mediaEndToEndEncrypted {
            h += e2ee ? "<p class=\"ok\">All media was end-to-end encrypted: the nodes forwarded it without being able to read it.</p>\n"
                : "<p>Some media was not end-to-end encrypted: the nodes listed above could process it.</p>\n"
        }

        if !s.relays.isEmpty {
            h += "<h2>Relay links</h2>\n<table><tr><th>From</th><th>To</th><th>Opened</th><th>Closed</th></tr>\n"
            for r in s.relays {
                h += "<tr><td>\(esc(r.from.description))</td><td>\(esc(r.to.description))</td><td>\(esc(r.opened.description))</td><td>\(esc(r.closed?.description ?? "still open"))</td></tr>\n"
            }
            h += "</table>\n"
        }
        if !s.artifacts.isEmpty {
            h += "<h2>Stored artifacts</h2>\n<table><tr><th>Kind</th><th>Where</th><th>Stored</th><th>Keep until</th><th>Deleted</th></tr>\n"
            for a in s.artifacts {
                let deleted = a.deletedAt.map { "\($0) (\(a.deletionReason?.description ?? ""))" } ?? "not yet"
                h += "<tr><td>\(esc(a.kind.description))</td><td>\(esc(a.location.description))</td><td>\(esc(a.storedAt.description))</td><td>\(esc(a.retainUntil.description))</td><td>\(esc(deleted))</td></tr>\n"
            }
            h += "</table>\n"
        }
        if !s.refusals.isEmpty {
            h += "<h2>Nodes that refused the meeting</h2>\n<ul>\n"
            for r in s.refusals { h += "<li>\(esc(r.location.description)) at \(esc(r.at.description)): \(esc(r.reason.description))</li>\n" }
            h += "</ul>\n"
        }
        if !s.compliance.violations.isEmpty {
            h += "<h2>Policy violations</h2>\n<ul>\n"
            for v in s.compliance.violations { h += "<li class=\"bad\">Entry \(v.entryIndex): \(esc(v.detail))</li>\n" }
            h += "</ul>\n"
        }
        h += "<h2>Policy</h2>\n<ul>\n"
        for p in s.policies {
            h += "<li>Version \(p.version), digest <code>\(esc(p.digest))</code>, end-to-end encryption \(esc(p.e2ee.description)), applied \(esc(p.appliedAt.description))</li>\n"
        }
        h += "</ul>\n<h2>Proof</h2>\n<p>\(entries.count) log entries, each with an inclusion proof against this signed checkpoint:</p>\n"
        h += "<pre>\(esc(checkpoint))</pre>\n</body></html>\n"
        return h
    }

    private func routeDiagram() -> String {
        let columns = summary.jurisdictions.map(\.jurisdiction)
        guard !columns.isEmpty else { return "" }
        var nodesByColumn: [CountryCode: [NodeLocation]] = [:]
        for w in summary.processing { nodesByColumn[w.location.jurisdiction, default: []].append(w.location) }
        let colWidth = 200, boxWidth = 170, boxHeight = 44, top = 40, gap = 16
        let rows = nodesByColumn.values.map(\.count).max() ?? 1
        let width = columns.count * colWidth + 20
        let height = top + rows * (boxHeight + gap) + 20
        var position: [NodeLocation: (x: Int, y: Int)] = [:]
        var svg = "<h2>Route</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"Nodes by jurisdiction and relay links\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"system-ui,sans-serif\" font-size=\"12\">\n"
        svg += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#555\"/></marker></defs>\n"
        for (ci, j) in columns.enumerated() {
            let x = 10 + ci * colWidth
            svg += "<rect x=\"\(x)\" y=\"4\" width=\"\(colWidth - 10)\" height=\"\(height - 8)\" rx=\"8\" fill=\"#f3f5f8\" stroke=\"#c9d1dc\"/>\n"
            svg += "<text x=\"\(x + 10)\" y=\"26\" font-weight=\"bold\">\(esc(j.rawValue))</text>\n"
            for (ri, loc) in (nodesByColumn[j] ?? []).sorted().enumerated() {
                let bx = x + 10, by = top + ri * (boxHeight + gap)
                position[loc] = (bx, by)
                svg += "<rect x=\"\(bx)\" y=\"\(by)\" width=\"\(boxWidth)\" height=\"\(boxHeight)\" rx=\"6\" fill=\"#fff\" stroke=\"#4a6fa5\"/>\n"
                svg += "<text x=\"\(bx + 8)\" y=\"\(by + 18)\">\(esc(loc.node.rawValue))</text>\n"
                svg += "<text x=\"\(bx + 8)\" y=\"\(by + 34)\" fill=\"#555\">\(esc(loc.region.rawValue))</text>\n"
            }
        }
        for r in summary.relays {
            guard let a = position[r.from], let b = position[r.to] else { continue }
            let (x1, x2) = a.x <= b.x ? (a.x + boxWidth, b.x) : (a.x, b.x + boxWidth)
            svg += "<line x1=\"\(x1)\" y1=\"\(a.y + boxHeight / 2)\" x2=\"\(x2)\" y2=\"\(b.y + boxHeight / 2)\" stroke=\"#555\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n"
        }
        svg += "</svg>\n"
        return svg
    }
}

/// Escapes text for HTML element content and attribute values.
func esc(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(ch)
        }
    }
    return out
}
