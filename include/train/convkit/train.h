// Training with convkit: Keras initialisers, a tiny layer stack, losses, SGD and Adam (the
// learning demonstrations built on them live in tools/convkit: kernel_recovery, activity).
#pragma once

#include "convkit/init.h"
#include "convkit/layers.h"
#include "convkit/loss.h"
#include "convkit/optimizer.h"
#include "convkit/random.h"
