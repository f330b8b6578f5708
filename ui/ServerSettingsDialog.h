#pragma once

#include "ServerSettings.h"

#include <QDialog>

class QLabel;
class QLineEdit;
class QRadioButton;

// Edits ServerSettings: embedded server, or a remote base URL + optional API key.
class ServerSettingsDialog : public QDialog
{
    Q_OBJECT
public:
    ServerSettingsDialog(const ServerSettings &settings, const QUrl &embeddedUrl, QWidget *parent = nullptr);
    ServerSettings settings() const;

    void accept() override;

private:
    void updateEnabled();
    QRadioButton *m_embedded;
    QRadioButton *m_remote;
    QLineEdit *m_url;
    QLineEdit *m_key;
    QLabel *m_error;
};
