#pragma once

#include <QFileInfo>
#include <QProcess>
#include <QSignalSpy>
#include <QString>
#include <QStringList>

// The npm packages of a test folder (tests/sdk, tests/durable): `npm ci` from the committed
// lock when node_modules is missing or older than the lock, and programs run to their end in
// that folder (waiting on QProcess::finished, no sleeps).
//
//   QVERIFY2(NodePackage::install(dir, &out), out.constData());
//   QVERIFY2(NodePackage::run(p, dir, "node", {"--test", "x.test.mjs"}, 120000, &out), out.constData());
namespace NodePackage {
// True when the program exited 0 within timeoutMs; output: stdout and stderr merged.
inline bool run(QProcess &p, const QString &dir, const QString &program, const QStringList &args, int timeoutMs, QByteArray *output)
{
    QSignalSpy finished(&p, &QProcess::finished);
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.setWorkingDirectory(dir);
    p.start(program, args);
    const bool ended = finished.wait(timeoutMs) || p.state() == QProcess::NotRunning;
    *output = p.readAll();
    return ended && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

// Node is there, and the folder's packages are installed as its lock pins them.
inline bool install(const QString &dir, QByteArray *output)
{
    QProcess version;
    if (!run(version, dir, QStringLiteral("node"), {QStringLiteral("--version")}, 10000, output)) {
        *output = "node is not installed (apt-get install nodejs npm)";
        return false;
    }
    const QFileInfo lock(dir + QStringLiteral("/package-lock.json"));
    const QFileInfo installed(dir + QStringLiteral("/node_modules/.package-lock.json"));
    if (installed.exists() && installed.lastModified() >= lock.lastModified())
        return true;
    QProcess npm;
    return run(npm, dir, QStringLiteral("npm"), {QStringLiteral("ci"), QStringLiteral("--no-audit"), QStringLiteral("--no-fund")}, 240000, output);
}
} // namespace NodePackage
