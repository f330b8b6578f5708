#pragma once

#include "StreamClient.h"

#include <QGroupBox>

class QLabel;
class QPushButton;

// The counters that show the stream is intact (events, reconnects, duplicates dropped, gaps)
// and the Verify button with the result of the last verification.
//
//   panel->setStats(client->stats());
//   connect(panel, &IntegrityPanel::verifyRequested, client, &StreamClient::verify);
class IntegrityPanel : public QGroupBox
{
    Q_OBJECT
public:
    explicit IntegrityPanel(QWidget *parent = nullptr);

    void setStats(const StreamClient::Stats &stats);
    void setVerifying(bool verifying);
    void setVerifyEnabled(bool enabled);
    void setResult(const VerifyResult &result);
    void clearResult();
    QString resultText() const;

Q_SIGNALS:
    void verifyRequested();

protected:
    void changeEvent(QEvent *event) override;

private:
    void showResult();
    QLabel *addRow(const QString &name, const QString &objectName);
    QLabel *m_events;
    QLabel *m_reconnects;
    QLabel *m_duplicates;
    QLabel *m_gaps;
    QLabel *m_chaosDrops;
    QPushButton *m_verify;
    QLabel *m_result = nullptr;
    class QFormLayout *m_form;
    VerifyResult m_shown;
    bool m_hasResult = false;
};
