#include "agents/Agent.h"

Agent::~Agent() = default;
