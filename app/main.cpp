// Parses flags, starts the backend (on its own thread when there is a window), shows the
// window or runs headless. Creates and connects objects; no logic.
#include "Backend.h"
#include "Config.h"
#include "SignalWatcher.h"
#include "MainWindow.h"

#include <QApplication>
#include <QCoreApplication>
#include <QThread>
#include <QUrl>

#include <cstdio>
#include <memory>
#include <sys/resource.h>

int main(int argc, char **argv)
{
    bool headless = false;
    // Window-only demo flags, taken out before Config::parse (which knows backend flags only):
    // --prompt "<text>" sends it once the embedded server is up; --chaos starts in chaos mode.
    QString autoPrompt;
    for (int i = 1; i < argc; ++i) {
        const QByteArray a(argv[i]);
        if (a == "--headless" || a == "--help" || a == "-h" || a == "--version" || a == "-v")
            headless = true;
    }
    // The server only: Qt's own UNIX event dispatcher instead of glib's. With thousands of
    // streaming sockets, glib's notifier lists (linear removal on every write-notifier toggle)
    // cost a third of the CPU; measured in docs/BENCHMARKS.md (W5: p99 8.2 s -> 0.29 s).
    if (headless && !qEnvironmentVariableIsSet("QT_NO_GLIB"))
        qputenv("QT_NO_GLIB", "1");
    // Every open stream is a socket (and, for the sender thread, a second descriptor): lift the
    // soft limit on descriptors to the hard one, as servers do (the soft default is often 1,024).
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &files);
    }
    std::unique_ptr<QCoreApplication> app(headless ? new QCoreApplication(argc, argv) : new QApplication(argc, argv));
    QCoreApplication::setApplicationName(QStringLiteral("agent-streams"));
    QCoreApplication::setOrganizationName(QStringLiteral("agent-streams"));
    QCoreApplication::setApplicationVersion(QStringLiteral("0.1.0"));

    QStringList arguments = QCoreApplication::arguments();
    bool chaos = false;
    for (qsizetype i = 1; i < arguments.size();) {
        const QString &a = arguments.at(i);
        if (a == QLatin1String("--prompt") && i + 1 < arguments.size()) {
            autoPrompt = arguments.at(i + 1);
            arguments.remove(i, 2);
        } else if (a.startsWith(QLatin1String("--prompt="))) {
            autoPrompt = a.mid(9);
            arguments.remove(i);
        } else if (a == QLatin1String("--chaos")) {
            chaos = true;
            arguments.remove(i);
        } else {
            ++i;
        }
    }

    QString error;
    QString exitText;
    const auto config = Config::parse(arguments, QProcessEnvironment::systemEnvironment(), &error, &exitText);
    if (!config) {
        std::fprintf(stderr, "agent-streams: %s\n", qPrintable(error));
        return 2;
    }
    if (!exitText.isEmpty()) {
        std::fputs(qPrintable(exitText), stdout);
        return 0;
    }

    SignalWatcher signalWatcher;
    QObject::connect(&signalWatcher, &SignalWatcher::terminationRequested, app.get(), [] { QCoreApplication::quit(); });

    if (config->headless) {
        Backend backend(*config);
        int code = 0;
        // Queued: start() may fail before exec() runs, and exit() outside exec() does nothing.
        QObject::connect(&backend, &Backend::failed, app.get(), [&code](const QString &message) {
            std::fprintf(stderr, "agent-streams: %s\n", qPrintable(message));
            code = 1;
            QCoreApplication::exit(1);
        }, Qt::QueuedConnection);
        backend.start();
        const int rc = app->exec();
        backend.stop();
        return code ? code : rc;
    }

    // Window mode: the backend lives on its own thread; the GUI thread only renders and talks
    // to it over HTTP like any other client.
    QThread backendThread;
    backendThread.setObjectName(QStringLiteral("backend"));
    auto *backend = new Backend(*config);
    backend->moveToThread(&backendThread);
    QObject::connect(&backendThread, &QThread::finished, backend, &QObject::deleteLater);
    QApplication::setStyle(QStringLiteral("Fusion"));
    MainWindow window; // registers the ui resources (icon) first
    QApplication::setWindowIcon(window.windowIcon());
    window.setChaosEnabled(chaos);
    if (!autoPrompt.isEmpty())
        window.setAutoSendPrompt(autoPrompt);
    QObject::connect(backend, &Backend::listening, &window, [&window, config](quint16 port) {
        window.setEmbeddedServer(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)));
    });
    QObject::connect(backend, &Backend::failed, &window, &MainWindow::showBackendError);
    backendThread.start();
    QMetaObject::invokeMethod(backend, &Backend::start, Qt::QueuedConnection);
    window.show();
    const int rc = app->exec();
    QMetaObject::invokeMethod(backend, &Backend::stop, Qt::BlockingQueuedConnection);
    backendThread.quit();
    backendThread.wait();
    return rc;
}
