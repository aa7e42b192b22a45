// Training with convkit: Keras initialisers, a tiny layer stack, losses, SGD and Adam, and the two
// learning demonstrations (kernel recovery, the 1D CNN on accelerometer windows).
#pragma once

#include "convkit/activity.h"
#include "convkit/init.h"
#include "convkit/kernel_recovery.h"
#include "convkit/layers.h"
#include "convkit/loss.h"
#include "convkit/optimizer.h"
#include "convkit/random.h"
