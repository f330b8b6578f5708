#pragma once

#include "agents/Agent.h"
#include "agents/ProviderConfig.h"

// The AgentFactory the backend gives RunManager. Per request:
//   options "provider": "synthetic"  -> SyntheticAgent when benchEnabled, else a FailingAgent
//                                       ("bad_request": start the server with --bench)
//   options "provider": "demo"       -> DemoAgent (the offline planner, even with a model configured)
//   otherwise                        -> ChatCompletionsAgent when config names a provider,
//                                       DemoAgent when it does not
//   other "provider" values          -> FailingAgent("bad_request")
// A misconfigured config (config.error) makes model requests fail with that error; better,
// refuse to start and print config.error. Agents share one QNetworkAccessManager, created on
// first use as a child of the factory call's parent (the RunManager's thread owns it).
AgentFactory makeAgentFactory(const ProviderConfig &config, int demoPaceMs, bool benchEnabled);

// "model provider: ..., synthetic benchmark provider: on|off" for the startup log; never the key.
QString describeAgentFactory(const ProviderConfig &config, bool benchEnabled);
