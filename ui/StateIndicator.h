#pragma once

#include "StreamClient.h"

#include <QWidget>

class QLabel;

// A coloured dot and a short text for the StreamClient's connection state.
class StateIndicator : public QWidget
{
    Q_OBJECT
public:
    explicit StateIndicator(QWidget *parent = nullptr);

    void setState(StreamClient::State state, const QString &text);
    QString text() const;
    static QColor colorFor(StreamClient::State state);

protected:
    void paintEvent(QPaintEvent *event) override;
    void changeEvent(QEvent *event) override;

private:
    QLabel *m_label;
    QColor m_color;
    StreamClient::State m_stateShown = StreamClient::State::Idle;
};
