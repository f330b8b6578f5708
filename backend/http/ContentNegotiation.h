#pragma once

#include <QByteArray>

// What a client asked for in its Accept header.
enum class ResponseFormat {
    Sse,   // text/event-stream (also for */*, no Accept, unknown-but-wildcard)
    Text,  // text/plain; charset=utf-8 — raw text for terminals
    Json,  // application/json — only where a route offers it (background-mode create)
    None,  // nothing we can produce: 406
};

// Parses media ranges with q-values. A type named explicitly beats a wildcard; among explicit
// types with equal q, text/plain wins (the sample's rule: "Accept containing text/plain");
// wildcards alone give SSE. allowJson: whether this route can answer with JSON.
ResponseFormat negotiateFormat(const QByteArray &accept, bool allowJson);

// True when the client prefers a JSON error body (Accept names application/json).
bool wantsJsonErrors(const QByteArray &accept);
