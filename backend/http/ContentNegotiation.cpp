#include "http/ContentNegotiation.h"

#include <QList>

namespace {
struct Range
{
    QByteArray type; // lowercase "type/subtype"
    double q = 1.0;
};

QList<Range> parseAccept(const QByteArray &accept)
{
    QList<Range> ranges;
    for (const QByteArray &part : accept.split(',')) {
        const QList<QByteArray> params = part.split(';');
        Range r;
        r.type = params.first().trimmed().toLower();
        if (r.type.isEmpty())
            continue;
        for (int i = 1; i < params.size(); ++i) {
            const QByteArray p = params.at(i).trimmed();
            if (p.startsWith("q=") || p.startsWith("Q=")) {
                bool ok = false;
                const double q = p.mid(2).toDouble(&ok);
                r.q = ok ? qBound(0.0, q, 1.0) : 0.0;
            }
        }
        ranges.append(r);
    }
    return ranges;
}

// Quality of `type` under the ranges, and how specific the best-matching range was
// (2 exact, 1 type/*, 0 */*, -1 no match).
std::pair<double, int> quality(const QList<Range> &ranges, const QByteArray &type)
{
    const QByteArray major = type.left(type.indexOf('/'));
    double q = 0;
    int specificity = -1;
    for (const Range &r : ranges) {
        int s = -1;
        if (r.type == type)
            s = 2;
        else if (r.type == major + "/*")
            s = 1;
        else if (r.type == "*/*")
            s = 0;
        if (s > specificity) {
            specificity = s;
            q = r.q;
        }
    }
    return {q, specificity};
}
} // namespace

ResponseFormat negotiateFormat(const QByteArray &accept, bool allowJson)
{
    const QList<Range> ranges = parseAccept(accept);
    if (ranges.isEmpty())
        return ResponseFormat::Sse;
    struct Candidate
    {
        ResponseFormat format;
        QByteArray type;
    };
    // Order = tie-break among explicitly named types.
    QList<Candidate> candidates{{ResponseFormat::Text, "text/plain"}, {ResponseFormat::Sse, "text/event-stream"}};
    if (allowJson)
        candidates.append({ResponseFormat::Json, "application/json"});
    ResponseFormat best = ResponseFormat::None;
    double bestQ = 0;
    int bestSpecificity = -1;
    for (const Candidate &c : candidates) {
        auto [q, specificity] = quality(ranges, c.type);
        if (q <= 0 || specificity < 0)
            continue;
        // Wildcard-only matches never pick text or JSON over SSE: SSE is the default.
        if (specificity < 2 && c.format != ResponseFormat::Sse)
            continue;
        if (q > bestQ || (q == bestQ && specificity > bestSpecificity)) {
            best = c.format;
            bestQ = q;
            bestSpecificity = specificity;
        }
    }
    if (best == ResponseFormat::None) {
        // e.g. "text/*" only matches SSE through the wildcard, handled above; JSON-only on a
        // streaming route, or image/png, end here.
        return ResponseFormat::None;
    }
    return best;
}

bool wantsJsonErrors(const QByteArray &accept)
{
    return accept.toLower().contains("application/json");
}
