#include "MainWindow.h"

#include <QLabel>

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent)
    , m_label(new QLabel(tr("Starting the embedded server..."), this))
{
    setWindowTitle(tr("Agent Streams"));
    setCentralWidget(m_label);
    resize(900, 700);
}

void MainWindow::setEmbeddedServer(const QUrl &url)
{
    m_label->setText(tr("Server running at %1").arg(url.toString()));
}

void MainWindow::showBackendError(const QString &message)
{
    m_label->setText(tr("The backend could not start: %1").arg(message));
}
