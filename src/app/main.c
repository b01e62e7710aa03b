/* main.c — start Dispatch: translations, the engine, the application.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "dispatch-application.h"
#include "dispatch-engine.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(DispatchApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  dispatch_engine_init ();

  g_set_application_name (_("Dispatch"));
  app = dispatch_application_new ();

  return g_application_run (G_APPLICATION (app), argc, argv);
}
