#include "http/core/Router.h"

namespace {
QByteArray methodNames(QHttpServerRequest::Methods methods)
{
    static const QList<QPair<QHttpServerRequest::Method, QByteArray>> names{
        {QHttpServerRequest::Method::Get, "GET"},       {QHttpServerRequest::Method::Post, "POST"},
        {QHttpServerRequest::Method::Delete, "DELETE"}, {QHttpServerRequest::Method::Put, "PUT"},
        {QHttpServerRequest::Method::Patch, "PATCH"},
    };
    QList<QByteArray> out;
    for (const auto &n : names)
        if (methods.testFlag(n.first))
            out << n.second;
    return out.join(", ");
}
} // namespace

void Router::add(QHttpServerRequest::Methods methods, const QByteArray &pattern, Handler handler, bool open)
{
    Route route{methods, pattern.split('/'), 0, std::move(handler), open};
    for (const QByteArray &s : std::as_const(route.segments))
        route.placeholders += s.startsWith('{') ? 1 : 0;
    m_routes.push_back(std::move(route));
}

bool Router::matches(const Route &route, const QList<QByteArray> &segments, QList<QByteArray> *args)
{
    if (route.segments.size() != segments.size())
        return false;
    args->clear();
    for (qsizetype i = 0; i < segments.size(); ++i) {
        if (route.segments.at(i).startsWith('{'))
            args->append(segments.at(i));
        else if (route.segments.at(i) != segments.at(i))
            return false;
    }
    return true;
}

Router::Match Router::match(Method method, const QByteArray &path) const
{
    const QList<QByteArray> segments = path.split('/');
    // The most literal matching pattern (fewest placeholders) decides; every route with that
    // same pattern is a candidate for the method.
    const Route *best = nullptr;
    for (const Route &r : m_routes) {
        QList<QByteArray> args;
        if (matches(r, segments, &args) && (!best || r.placeholders < best->placeholders))
            best = &r;
    }
    Match m;
    if (!best)
        return m;
    m.pathKnown = true;
    QHttpServerRequest::Methods allowed;
    for (size_t i = 0; i < m_routes.size(); ++i) {
        const Route &r = m_routes[i];
        if (r.segments != best->segments)
            continue;
        allowed |= r.methods;
        if (!m.handler && r.methods.testFlag(method)) {
            matches(r, segments, &m.args);
            m.handler = &r.handler;
            m.open = r.open;
            m.route = int(i);
        }
    }
    m.allow = methodNames(allowed);
    return m;
}
