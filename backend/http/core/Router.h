#pragma once

#include "http/core/RequestContext.h"

#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <functional>
#include <vector>

// Routes as data: method + path pattern ("/v1/responses/{id}/cancel", one segment per
// placeholder) -> handler. The most literal pattern that matches the path decides (so
// "/api/agent/create" beats "/api/agent/{id}"); a path whose pattern has no handler for the
// method is a 405 with the methods it has (Allow), a path no pattern matches a 404.
//
//   router.add(Method::Get, "/v1/responses/{id}", [this](auto &request, auto &&responder, auto &context) {...});
//   const Router::Match m = router.match(request.method(), path);
class Router
{
public:
    using Handler = std::function<void(const QHttpServerRequest &, QHttpServerResponder &&, RequestContext &)>;
    using Method = QHttpServerRequest::Method;

    // open: answered without an API key (health checks).
    void add(QHttpServerRequest::Methods methods, const QByteArray &pattern, Handler handler, bool open = false);

    struct Match
    {
        const Handler *handler = nullptr; // null: no route for this method
        bool pathKnown = false;           // some pattern matched: null handler = 405
        bool open = false;
        int route = -1;                   // which add() it was, counted from 0
        QByteArray allow;                 // the matching pattern's methods ("GET, POST")
        QList<QByteArray> args;
    };
    Match match(Method method, const QByteArray &path) const;

private:
    struct Route
    {
        QHttpServerRequest::Methods methods;
        QList<QByteArray> segments; // "{...}" = any one segment
        int placeholders = 0;
        Handler handler;
        bool open = false;
    };
    static bool matches(const Route &route, const QList<QByteArray> &segments, QList<QByteArray> *args);
    std::vector<Route> m_routes;
};
