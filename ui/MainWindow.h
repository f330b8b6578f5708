#pragma once

#include <QMainWindow>
#include <QUrl>

class QLabel;

// Placeholder window until the desktop client lands (issue 4).
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    explicit MainWindow(QWidget *parent = nullptr);
public Q_SLOTS:
    void setEmbeddedServer(const QUrl &url);
    void showBackendError(const QString &message);

private:
    QLabel *m_label;
};
