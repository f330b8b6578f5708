#pragma once

#include <QWidget>

class QComboBox;
class QPlainTextEdit;
class QPushButton;

// The prompt editor with its example prompts and the Cancel run / Follow up / Send buttons.
// Knows nothing of the client: MainWindow enables the buttons and acts on the signals.
//
//   auto *area = new PromptArea(parent);
//   connect(area, &PromptArea::sendRequested, ...);     // Send or Ctrl+Enter: a new conversation
//   connect(area, &PromptArea::followUpRequested, ...); // Follow up: the next turn of the shown one
//   connect(area, &PromptArea::cancelRequested, ...);
class PromptArea : public QWidget
{
    Q_OBJECT
public:
    explicit PromptArea(QWidget *parent = nullptr);

    QString prompt() const; // trimmed
    void setPrompt(const QString &text);
    void focusPrompt();
    void setSendEnabled(bool on);
    void setFollowUpEnabled(bool on);
    void setCancelEnabled(bool on);

Q_SIGNALS:
    void sendRequested();
    void followUpRequested();
    void cancelRequested();

private:
    void loadExamples();

    QPlainTextEdit *m_prompt;
    QComboBox *m_examples;
    QPushButton *m_send;
    QPushButton *m_followUp;
    QPushButton *m_cancel;
};
