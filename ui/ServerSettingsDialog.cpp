#include "ServerSettingsDialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QRadioButton>
#include <QVBoxLayout>

ServerSettingsDialog::ServerSettingsDialog(const ServerSettings &settings, const QUrl &embeddedUrl, QWidget *parent)
    : QDialog(parent)
    , m_embedded(new QRadioButton(this))
    , m_remote(new QRadioButton(tr("Remote server"), this))
    , m_url(new QLineEdit(this))
    , m_key(new QLineEdit(this))
    , m_error(new QLabel(this))
{
    setWindowTitle(tr("Server"));
    m_embedded->setText(embeddedUrl.isValid() && !embeddedUrl.isEmpty() ? tr("Embedded server (%1)").arg(embeddedUrl.toString())
                                                                       : tr("Embedded server"));
    m_embedded->setChecked(settings.embedded);
    m_remote->setChecked(!settings.embedded);
    m_url->setPlaceholderText(QStringLiteral("http://host:7071"));
    m_url->setText(settings.remoteUrl.toString());
    m_key->setPlaceholderText(tr("optional; sent as Authorization: Bearer"));
    m_key->setEchoMode(QLineEdit::PasswordEchoOnEdit);
    m_key->setText(settings.apiKey);
    m_error->setProperty("role", "error"); // styled in Theme::styleSheet (the parent window's)
    m_error->hide();

    auto *form = new QFormLayout;
    form->addRow(tr("Base URL"), m_url);
    form->addRow(tr("API key"), m_key);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_embedded);
    layout->addWidget(m_remote);
    layout->addLayout(form);
    layout->addWidget(m_error);
    layout->addWidget(buttons);
    connect(m_remote, &QRadioButton::toggled, this, &ServerSettingsDialog::updateEnabled);
    updateEnabled();
    resize(480, sizeHint().height());
}

void ServerSettingsDialog::updateEnabled()
{
    m_url->setEnabled(m_remote->isChecked());
    m_key->setEnabled(m_remote->isChecked());
}

ServerSettings ServerSettingsDialog::settings() const
{
    ServerSettings s;
    s.embedded = m_embedded->isChecked();
    s.remoteUrl = ServerSettings::parseUrl(m_url->text());
    s.apiKey = m_key->text().trimmed();
    return s;
}

void ServerSettingsDialog::accept()
{
    if (m_remote->isChecked() && !ServerSettings::parseUrl(m_url->text()).isValid()) {
        m_error->setText(tr("Enter an http:// or https:// URL, e.g. http://127.0.0.1:7071"));
        m_error->show();
        return;
    }
    QDialog::accept();
}
