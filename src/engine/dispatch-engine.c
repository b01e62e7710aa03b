/* dispatch-engine.c — one-time initialisation of the libraries the engine stands on.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <gmime/gmime.h>

#include "dispatch-engine.h"

void
dispatch_engine_init (void)
{
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised))
    {
      bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      g_mime_init ();
      g_once_init_leave (&initialised, 1);
    }
}
