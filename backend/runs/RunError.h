#pragma once

#include <QByteArray>
#include <QString>

// Why a run operation did not happen, as a value: the HTTP families map the kind to their own
// status and error shape (runs/ knows no HTTP). The message is written for a person.
struct RunError
{
    enum class Kind {
        None,
        NotFound,    // no such conversation (or another tenant's: as if it did not exist)
        Busy,        // a turn of the conversation is still running; retrying after it ends succeeds
        Unavailable, // Redis cannot be reached or is not serving; retrying shortly may succeed
    };
    Kind kind = Kind::None;
    QString message;

    bool isError() const { return kind != Kind::None; }

    static RunError notFound(const QByteArray &conversationId)
    {
        return {Kind::NotFound, QStringLiteral("conversation %1 does not exist or has expired").arg(QString::fromUtf8(conversationId))};
    }
    static RunError busy()
    {
        return {Kind::Busy, QStringLiteral("a turn of this conversation is still running: wait for its done event or cancel it")};
    }
    static RunError unavailable(const QString &why)
    {
        return {Kind::Unavailable, QStringLiteral("Redis is unavailable (%1); try again shortly").arg(why)};
    }
};
