/* dispatch-engine.h — the engine's public headers in one include.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The account, the message, the session with its result, and the error: what the window and
 * dispatch-send build on. The layers under the session (parsers and builders, connection,
 * job, dialogue, transaction) are the engine's own; a test that needs one includes its header.
 */
#pragma once

#include "dispatch-account.h"
#include "dispatch-engine-enums.h"
#include "dispatch-error.h"
#include "dispatch-message.h"
#include "dispatch-smtp-result.h"
#include "dispatch-smtp-session.h"

G_BEGIN_DECLS

/* Initialises GMime and gettext for the engine; idempotent, thread-safe. Call once from main()
 * before using the engine. */
void dispatch_engine_init (void);

G_END_DECLS
