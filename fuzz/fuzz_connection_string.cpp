// fuzz_connection_string: RedisConfig::parse (REDIS_CONNECTION_STRING / --redis).
// Properties: no crash / UB; a failure has a message; a success is usable (a host or an
// absolute unix path, port 1-65535, database >= 0); describe() (what the logs show) never
// contains the password: it is exactly the description of the same config without a password,
// plus " (with password)".
// With FUZZ_STRICT_SECRETS=1 in the environment, error messages must not contain the password
// either. Opt-in because it fails today: URL errors quote the whole string, password included
// (e.g. "redis://:secret@" -> "missing host in \"redis://:secret@\""); make it the default once fixed.

#include "FuzzSupport.h"

#include "redis/RedisConfig.h"

#include <QRegularExpression>
#include <QUrl>

using FuzzSupport::escaped;

namespace {

// The password a person meant to write in `text`, if any (best effort, for error messages).
QString intendedPassword(const QString &text)
{
    const qsizetype at = text.indexOf(QLatin1String("password="), 0, Qt::CaseInsensitive);
    if (at >= 0) {
        QString value = text.mid(at + 9);
        value = value.left(value.indexOf(QRegularExpression(QStringLiteral("[,&]")))).trimmed();
        return value;
    }
    const QUrl url(text.trimmed());
    return url.password(QUrl::FullyDecoded);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bool strictSecrets = qEnvironmentVariableIntValue("FUZZ_STRICT_SECRETS") == 1;
    const QByteArray bytes(reinterpret_cast<const char *>(data), qsizetype(size));
    const QString text = QString::fromUtf8(bytes);
    QString error;
    const std::optional<RedisConfig> cfg = RedisConfig::parse(text, &error);
    (void)RedisConfig::parse(text, nullptr); // the error pointer is optional

    if (!cfg) {
        FUZZ_CHECK(!error.isEmpty(), "no error message for \"%s\"", escaped(bytes).constData());
        if (strictSecrets) {
            const QString password = intendedPassword(text);
            FUZZ_CHECK(password.size() < 4 || !error.contains(password), "the error message shows the password: \"%s\" -> \"%s\"",
                       escaped(bytes).constData(), escaped(error.toUtf8()).constData());
        }
        return 0;
    }
    if (cfg->isUnix())
        FUZZ_CHECK(cfg->unixPath.startsWith(QLatin1Char('/')), "relative unix path from \"%s\"", escaped(bytes).constData());
    else
        FUZZ_CHECK(!cfg->host.isEmpty(), "empty host from \"%s\"", escaped(bytes).constData());
    FUZZ_CHECK(cfg->port >= 1 && cfg->port <= 65535, "port %d from \"%s\"", cfg->port, escaped(bytes).constData());
    FUZZ_CHECK(cfg->database >= 0, "database %d from \"%s\"", cfg->database, escaped(bytes).constData());

    RedisConfig withoutPassword = *cfg;
    withoutPassword.password.clear();
    const QString described = cfg->describe();
    const QString expected = withoutPassword.describe() + (cfg->password.isEmpty() ? QString() : QStringLiteral(" (with password)"));
    FUZZ_CHECK(described == expected, "describe() of \"%s\" is \"%s\", expected \"%s\"", escaped(bytes).constData(),
               escaped(described.toUtf8()).constData(), escaped(expected.toUtf8()).constData());
    return 0;
}
