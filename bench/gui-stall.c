/* gui-stall.c — the real application sends a large attachment: main-loop stalls, frame gaps, launch to first frame.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-gui-stall --port PORT --image FILE [--settle-ms 1000] [--tail-ms 250] [--no-animations] [--verbose]
 *
 * Runs Dispatch in this process the way main.c does, as if started with
 * `dispatch --attach FILE mailto:bob@…`, against an SMTP server already listening on
 * 127.0.0.1:PORT without TLS or AUTH (bench/gui.py starts Postfix's smtp-sink). Needs a display
 * (bench/gui.py uses xvfb-run), the compiled schema (GSETTINGS_SCHEMA_DIR) and keeps its settings
 * in memory; drafts go to a temporary directory.
 *
 * Timeline, all on the monotonic clock:
 *   process start (kernel, 10 ms steps) → main() → window constructed → first frame drawn
 *   ("after-paint" of the window's frame clock) → settle → Send pressed → send finished → tail.
 *
 * Probes on the main loop from the first frame on:
 * - a 1 ms timeout at G_PRIORITY_HIGH. Whatever else the loop dispatches, it is back within about
 *   a millisecond unless a callback holds it; each gap between two of its runs, minus the 1 ms, is
 *   one stall. The main thread's CPU time across the gap tells a callback that computes (CPU
 *   close to the gap) from a thread that was not scheduled or waited in a system call.
 * - the window's frame clock: "before-paint" to "after-paint" is one frame's update, layout and
 *   paint ("layout" ends the layout part), all inside one dispatch of the loop. A stall's CPU
 *   time minus its frames' is what signal handlers, idles and I/O callbacks took in that turn.
 * - a tick callback on the window, run once per frame: the gaps between frames. The frame clock
 *   paints at GDK_PRIORITY_REDRAW, below G_PRIORITY_DEFAULT, so a stream of default-priority
 *   sources can starve frames without any single callback being long.
 *
 * --no-animations turns GTK's animations off (as the desktop setting does); --verbose prints
 * every stall and frame over 4 ms with its monotonic times, to find it in
 * `perf record -k CLOCK_MONOTONIC`.
 *
 * Output: one JSON line on stdout, the same figures as text on stderr. Exit 0 when the message
 * was sent, 1 otherwise. Not a test: timings on a shared machine prove nothing in pass/fail.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dispatch-application.h"
#include "dispatch-attachment-row.h"
#include "dispatch-engine.h"
#include "dispatch-settings.h"
#include "dispatch-window.h"

#define PROBE_INTERVAL_MS 1
#define STALL_TARGET_MS   16.0
#define TIME_LIMIT_S      300
#define N_LONGEST         5
#define VERBOSE_STALL_MS  4.0

typedef struct
{
  double stall_ms;     /* gap minus the probe's interval */
  double cpu_ms;       /* the main thread's CPU time during the gap */
  double at_ms;        /* end of the gap, from the start of the phase */
  double layout_ms;    /* frames only: update and layout; the rest is paint */
  double frames_ms;    /* stalls only: how much of the gap was frame work */
  double frames_cpu_ms;
} Stall;

/* One stretch of the timeline: every main-loop turn and every frame seen in it. */
typedef struct
{
  gint64      start;
  GArray     *stalls;        /* Stall */
  GArray     *frame_gaps;    /* double, ms */
  GArray     *frame_work;    /* Stall: "before-paint" to "after-paint" of one frame */
} Phase;

typedef enum
{
  STEP_LAUNCHING,
  STEP_SETTLING,
  STEP_SENDING,
  STEP_TAIL,
  STEP_DONE,
} Step;

typedef struct
{
  /* Arguments */
  char           *image;
  guint           settle_ms;
  guint           tail_ms;
  gboolean        verbose;
  gboolean        no_animations;

  /* Borrowed references */
  GApplication   *app;
  DispatchWindow *window;

  /* Timeline (monotonic µs) */
  double          start_to_main_ms;
  gint64          main_start;
  gint64          window_created;
  gint64          first_frame;
  gint64          send_pressed;
  gint64          send_finished;

  /* Probes */
  Step            step;
  Phase           settle;
  Phase           send;
  Phase          *phase;          /* where samples go now, NULL before the first frame */
  gint64          last_probe;
  gint64          last_probe_cpu;
  gint64          last_frame;
  gint64          frame_begin;
  gint64          frame_begin_cpu;
  gint64          frame_laid_out;
  gint64          frame_work_since_probe;
  gint64          frame_cpu_since_probe;

  /* Outcome */
  gboolean        sent;
  char           *error;
} Bench;

static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* How long ago the kernel started this process: /proc/self/stat field 22 is in clock ticks
 * (10 ms with USER_HZ 100) since boot, on the clock CLOCK_BOOTTIME reads. */
static double
ms_since_process_start (void)
{
  g_autofree char *stat = NULL;
  g_auto(GStrv) fields = NULL;
  struct timespec now;
  const char *after_name;
  double start_s;

  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL) ||
      (after_name = strrchr (stat, ')')) == NULL)
    return -1;

  /* Fields after "(comm)" start at field 3, so field 22 is index 19. */
  fields = g_strsplit (after_name + 2, " ", 0);
  if (g_strv_length (fields) < 20)
    return -1;

  start_s = g_ascii_strtod (fields[19], NULL) / sysconf (_SC_CLK_TCK);
  clock_gettime (CLOCK_BOOTTIME, &now);
  return (now.tv_sec + now.tv_nsec / 1e9 - start_s) * 1000.0;
}

static double
ms_between (gint64 from,
            gint64 to)
{
  return (to - from) / 1000.0;
}

static void
phase_init (Phase *phase)
{
  phase->stalls = g_array_new (FALSE, FALSE, sizeof (Stall));
  phase->frame_gaps = g_array_new (FALSE, FALSE, sizeof (double));
  phase->frame_work = g_array_new (FALSE, FALSE, sizeof (Stall));
}

static void
phase_clear (Phase *phase)
{
  g_clear_pointer (&phase->stalls, g_array_unref);
  g_clear_pointer (&phase->frame_gaps, g_array_unref);
  g_clear_pointer (&phase->frame_work, g_array_unref);
}

static void
fail (Bench      *bench,
      const char *message)
{
  if (bench->error == NULL)
    bench->error = g_strdup (message);
  bench->step = STEP_DONE;
  g_application_quit (bench->app);
}

static GtkWidget *
window_child (Bench      *bench,
              const char *name)
{
  return GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (bench->window), DISPATCH_TYPE_WINDOW, name));
}

static DispatchAttachmentRow *
attachment_row (Bench *bench)
{
  for (GtkWidget *c = gtk_widget_get_first_child (window_child (bench, "attachments_list"));
       c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      if (DISPATCH_IS_ATTACHMENT_ROW (c))
        return DISPATCH_ATTACHMENT_ROW (c);
    }

  return NULL;
}

static void
begin_phase (Bench  *bench,
             Phase  *phase,
             gint64  now)
{
  phase->start = now;
  bench->phase = phase;
}

static void
press_send (Bench  *bench,
            gint64  now)
{
  DispatchAttachmentRow *row = attachment_row (bench);

  /* The user waited for the file's size to show up before sending. */
  if (row == NULL || dispatch_attachment_row_get_size (row) == 0)
    {
      if (now > bench->first_frame + 30 * G_USEC_PER_SEC)
        fail (bench, "the attachment row never showed the file's size");
      return;
    }

  begin_phase (bench, &bench->send, now);
  bench->send_pressed = now;
  bench->step = STEP_SENDING;
  gtk_widget_activate_action (GTK_WIDGET (bench->window), "win.send", NULL);

  if (!dispatch_window_is_sending (bench->window))
    fail (bench, "pressing Send did not start a send (is the form complete?)");
}

static void
check_sent (Bench  *bench,
            gint64  now)
{
  if (dispatch_window_is_sending (bench->window))
    return;

  bench->send_finished = now;
  bench->sent = gtk_widget_has_css_class (window_child (bench, "result_card"), "success");
  if (!bench->sent)
    {
      g_autofree char *phase = g_strdup (gtk_label_get_text (GTK_LABEL (window_child (bench, "phase_label"))));
      g_autofree char *title = g_strdup (gtk_label_get_text (GTK_LABEL (window_child (bench, "result_title"))));
      g_autofree char *message = g_strdup_printf ("the window says “%s”: %s", phase, title);

      fail (bench, message);
      return;
    }

  bench->step = STEP_TAIL;
}

static gboolean
probe_cb (gpointer user_data)
{
  Bench *bench = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_us ();
  Stall stall;

  stall.stall_ms = MAX (0.0, ms_between (bench->last_probe, now) - PROBE_INTERVAL_MS);
  stall.cpu_ms = ms_between (bench->last_probe_cpu, cpu);
  stall.at_ms = ms_between (bench->phase->start, now);
  stall.layout_ms = 0.0;
  stall.frames_ms = bench->frame_work_since_probe / 1000.0;
  stall.frames_cpu_ms = bench->frame_cpu_since_probe / 1000.0;
  bench->frame_work_since_probe = 0;
  bench->frame_cpu_since_probe = 0;
  g_array_append_val (bench->phase->stalls, stall);

  if (bench->verbose && stall.stall_ms > VERBOSE_STALL_MS)
    g_printerr ("stall %.1f ms (frames %.1f ms), CPU %.1f ms: monotonic %" G_GINT64_FORMAT " → %" G_GINT64_FORMAT " µs\n",
                stall.stall_ms, stall.frames_ms, stall.cpu_ms, bench->last_probe, now);

  bench->last_probe = now;
  bench->last_probe_cpu = cpu;

  switch (bench->step)
    {
    case STEP_SETTLING:
      if (now >= bench->first_frame + bench->settle_ms * 1000)
        press_send (bench, now);
      break;

    case STEP_SENDING:
      check_sent (bench, now);
      break;

    case STEP_TAIL:
      if (now >= bench->send_finished + bench->tail_ms * 1000)
        {
          bench->step = STEP_DONE;
          g_application_quit (bench->app);
        }
      break;

    case STEP_LAUNCHING:
    case STEP_DONE:
    default:
      break;
    }

  return bench->step == STEP_DONE ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static gboolean
frame_tick_cb (GtkWidget     *widget,
               GdkFrameClock *frame_clock,
               gpointer       user_data)
{
  Bench *bench = user_data;
  gint64 now = g_get_monotonic_time ();
  double gap;

  if (bench->step == STEP_DONE)
    return G_SOURCE_REMOVE;

  if (bench->last_frame != 0 && bench->phase != NULL)
    {
      gap = ms_between (bench->last_frame, now);
      g_array_append_val (bench->phase->frame_gaps, gap);
    }
  bench->last_frame = now;

  return G_SOURCE_CONTINUE;
}

static void
start_probes (Bench  *bench,
              gint64  now)
{
  GSource *probe;

  bench->first_frame = now;
  bench->step = STEP_SETTLING;
  begin_phase (bench, &bench->settle, now);

  bench->last_probe = now;
  bench->last_probe_cpu = thread_cpu_us ();
  probe = g_timeout_source_new (PROBE_INTERVAL_MS);
  g_source_set_priority (probe, G_PRIORITY_HIGH);
  g_source_set_callback (probe, probe_cb, bench, NULL);
  g_source_set_static_name (probe, "[bench] main-loop probe");
  g_source_attach (probe, NULL);
  g_source_unref (probe);

  gtk_widget_add_tick_callback (GTK_WIDGET (bench->window), frame_tick_cb, bench, NULL);
}

static void
before_paint_cb (GdkFrameClock *frame_clock,
                 Bench         *bench)
{
  bench->frame_begin = g_get_monotonic_time ();
  bench->frame_begin_cpu = thread_cpu_us ();
  bench->frame_laid_out = bench->frame_begin;
}

/* The first emission is the first frame on screen; every one closes a frame's update, layout
 * and paint, which is how long that frame kept the main loop. */
static void
after_paint_cb (GdkFrameClock *frame_clock,
                Bench         *bench)
{
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_us ();
  Stall work;

  if (bench->first_frame == 0)
    {
      start_probes (bench, now);
      return;
    }

  if (bench->phase == NULL || bench->step == STEP_DONE || bench->frame_begin == 0)
    return;

  work.stall_ms = ms_between (bench->frame_begin, now);
  work.cpu_ms = ms_between (bench->frame_begin_cpu, cpu);
  work.at_ms = ms_between (bench->phase->start, now);
  work.layout_ms = ms_between (bench->frame_begin, bench->frame_laid_out);
  work.frames_ms = work.stall_ms;
  work.frames_cpu_ms = work.cpu_ms;
  g_array_append_val (bench->phase->frame_work, work);
  bench->frame_work_since_probe += now - bench->frame_begin;
  bench->frame_cpu_since_probe += cpu - bench->frame_begin_cpu;

  if (bench->verbose && work.stall_ms > VERBOSE_STALL_MS)
    g_printerr ("frame %.1f ms (layout %.1f ms), CPU %.1f ms: monotonic %" G_GINT64_FORMAT " → %" G_GINT64_FORMAT " µs\n",
                work.stall_ms, work.layout_ms, work.cpu_ms, bench->frame_begin, now);
}

/* Connected after GTK's own handler, so this is the end of the layout phase. */
static void
layout_cb (GdkFrameClock *frame_clock,
           Bench         *bench)
{
  bench->frame_laid_out = g_get_monotonic_time ();
}

static void
window_realize_cb (GtkWidget *widget,
                   Bench     *bench)
{
  GdkFrameClock *frame_clock = gtk_widget_get_frame_clock (widget);

  g_signal_connect (frame_clock, "before-paint", G_CALLBACK (before_paint_cb), bench);
  g_signal_connect (frame_clock, "layout", G_CALLBACK (layout_cb), bench);
  g_signal_connect (frame_clock, "after-paint", G_CALLBACK (after_paint_cb), bench);
}

static void
window_added_cb (GtkApplication *application,
                 GtkWindow      *window,
                 Bench          *bench)
{
  if (bench->window != NULL || !DISPATCH_IS_WINDOW (window))
    return;

  bench->window = DISPATCH_WINDOW (window);
  bench->window_created = g_get_monotonic_time ();
  if (bench->no_animations)
    g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  g_signal_connect_after (window, "realize", G_CALLBACK (window_realize_cb), bench);
}

/* The window never drew, or the send never ended: the whole run is bounded. */
static gboolean
launch_limit_cb (gpointer user_data)
{
  Bench *bench = user_data;

  if (bench->step != STEP_DONE)
    fail (bench, "time limit reached");

  return G_SOURCE_REMOVE;
}

static void
configure_account (guint16 port)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();

  g_settings_set_string (settings, "provider", "custom");
  g_settings_set_string (settings, "host", "127.0.0.1");
  g_settings_set_uint (settings, "port", port);
  g_settings_set_enum (settings, "security", DISPATCH_SMTP_SECURITY_NONE);
  g_settings_set_string (settings, "user", "");
  g_settings_set_uint (settings, "timeout", 60);
  g_settings_set_string (settings, "sender-name", "Ann Example");
  g_settings_set_string (settings, "sender-address", "ann@example.org");
}

/* Summary of one phase ------------------------------------------------------------------ */

typedef struct
{
  guint  turns;
  double max_ms;
  double max_cpu_ms;
  double max_at_ms;
  double p99_ms;
  double p50_ms;
  guint  over_target;
  double over_target_ms;      /* time lost in stalls above the target */
  Stall  longest[N_LONGEST];
  guint  n_longest;

  guint  frames;
  double frame_median_ms;
  double frame_max_ms;
  guint  frames_late;         /* gaps longer than 1.5 × the median: at least one frame missed */
  Stall  frame_work_max;      /* the frame that took longest to lay out and paint */
  Stall  outside_max;         /* the turn with the most main-thread CPU outside frame work:
                               * handlers, I/O callbacks, idles */
  double frame_work_p50_ms;
} Summary;

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static int
compare_stall_desc (gconstpointer a,
                    gconstpointer b)
{
  double x = ((const Stall *) a)->stall_ms, y = ((const Stall *) b)->stall_ms;

  return (x < y) - (x > y);
}

/* The value below which @fraction of the sorted @values fall (nearest rank). */
static double
percentile (const double *values,
            guint         n,
            double        fraction)
{
  guint rank;

  if (n == 0)
    return 0.0;

  rank = (guint) (fraction * n);
  if (rank < fraction * n)
    rank++;
  return values[CLAMP (rank, 1, n) - 1];
}

static void
summarize (const Phase *phase,
           Summary     *s)
{
  g_autoptr(GArray) sorted = g_array_sized_new (FALSE, FALSE, sizeof (double), phase->stalls->len);
  g_autoptr(GArray) by_length = g_array_copy (phase->stalls);
  g_autoptr(GArray) frames = g_array_copy (phase->frame_gaps);
  g_autoptr(GArray) work_ms = g_array_sized_new (FALSE, FALSE, sizeof (double), phase->frame_work->len);

  memset (s, 0, sizeof *s);
  s->turns = phase->stalls->len;

  for (guint i = 0; i < phase->stalls->len; i++)
    {
      const Stall *stall = &g_array_index (phase->stalls, Stall, i);

      g_array_append_val (sorted, stall->stall_ms);
      if (stall->cpu_ms - stall->frames_cpu_ms > s->outside_max.cpu_ms - s->outside_max.frames_cpu_ms)
        s->outside_max = *stall;
      if (stall->stall_ms > STALL_TARGET_MS)
        {
          s->over_target++;
          s->over_target_ms += stall->stall_ms;
        }
    }
  g_array_sort (sorted, compare_double);
  g_array_sort (by_length, compare_stall_desc);

  s->p99_ms = percentile ((double *) sorted->data, sorted->len, 0.99);
  s->p50_ms = percentile ((double *) sorted->data, sorted->len, 0.50);
  s->n_longest = MIN (by_length->len, N_LONGEST);
  for (guint i = 0; i < s->n_longest; i++)
    s->longest[i] = g_array_index (by_length, Stall, i);
  if (s->n_longest > 0)
    {
      s->max_ms = s->longest[0].stall_ms;
      s->max_cpu_ms = s->longest[0].cpu_ms;
      s->max_at_ms = s->longest[0].at_ms;
    }

  for (guint i = 0; i < phase->frame_work->len; i++)
    {
      const Stall *work = &g_array_index (phase->frame_work, Stall, i);

      if (work->stall_ms > s->frame_work_max.stall_ms)
        s->frame_work_max = *work;
      g_array_append_val (work_ms, work->stall_ms);
    }
  g_array_sort (work_ms, compare_double);
  s->frame_work_p50_ms = percentile ((double *) work_ms->data, work_ms->len, 0.50);

  g_array_sort (frames, compare_double);
  s->frames = frames->len;
  s->frame_median_ms = percentile ((double *) frames->data, frames->len, 0.50);
  s->frame_max_ms = frames->len > 0 ? g_array_index (frames, double, frames->len - 1) : 0.0;
  for (guint i = 0; i < frames->len; i++)
    {
      if (g_array_index (frames, double, i) > 1.5 * s->frame_median_ms)
        s->frames_late++;
    }
}

/* JSON numbers are written in the C locale whatever LC_NUMERIC says. */
static void
json_number (GString    *out,
             const char *key,
             double      value,
             gboolean    comma)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (out, "\"%s\": %s%s", key,
                          g_ascii_formatd (buffer, sizeof buffer, "%.3f", value),
                          comma ? ", " : "");
}

static void
json_summary (GString       *out,
              const char    *key,
              const Summary *s)
{
  g_string_append_printf (out, "\"%s\": {", key);
  g_string_append_printf (out, "\"turns\": %u, ", s->turns);
  json_number (out, "max_stall_ms", s->max_ms, TRUE);
  json_number (out, "max_stall_cpu_ms", s->max_cpu_ms, TRUE);
  json_number (out, "max_stall_at_ms", s->max_at_ms, TRUE);
  json_number (out, "p99_stall_ms", s->p99_ms, TRUE);
  json_number (out, "p50_stall_ms", s->p50_ms, TRUE);
  g_string_append_printf (out, "\"stalls_over_16ms\": %u, ", s->over_target);
  json_number (out, "stalled_over_16ms_ms", s->over_target_ms, TRUE);
  g_string_append (out, "\"longest\": [");
  for (guint i = 0; i < s->n_longest; i++)
    {
      g_string_append (out, i > 0 ? ", {" : "{");
      json_number (out, "stall_ms", s->longest[i].stall_ms, TRUE);
      json_number (out, "cpu_ms", s->longest[i].cpu_ms, TRUE);
      json_number (out, "frames_ms", s->longest[i].frames_ms, TRUE);
      json_number (out, "at_ms", s->longest[i].at_ms, FALSE);
      g_string_append (out, "}");
    }
  g_string_append (out, "], ");
  g_string_append_printf (out, "\"frames\": %u, ", s->frames);
  json_number (out, "frame_median_ms", s->frame_median_ms, TRUE);
  json_number (out, "frame_max_ms", s->frame_max_ms, TRUE);
  g_string_append_printf (out, "\"frames_late\": %u, ", s->frames_late);
  json_number (out, "frame_work_p50_ms", s->frame_work_p50_ms, TRUE);
  json_number (out, "frame_work_max_ms", s->frame_work_max.stall_ms, TRUE);
  json_number (out, "frame_work_max_cpu_ms", s->frame_work_max.cpu_ms, TRUE);
  json_number (out, "frame_work_max_layout_ms", s->frame_work_max.layout_ms, TRUE);
  json_number (out, "frame_work_max_at_ms", s->frame_work_max.at_ms, TRUE);
  json_number (out, "max_cpu_outside_frames_ms", MAX (0.0, s->outside_max.cpu_ms - s->outside_max.frames_cpu_ms), TRUE);
  json_number (out, "max_cpu_outside_frames_at_ms", s->outside_max.at_ms, FALSE);
  g_string_append (out, "}");
}

static void
text_summary (const char    *title,
              const Summary *s)
{
  g_printerr ("%s: %u main-loop turns\n", title, s->turns);
  g_printerr ("  longest stall %.1f ms (main thread CPU in it %.1f ms, frame work %.1f ms, %.0f ms in), "
              "p99 %.2f ms, median %.2f ms, %u over %.0f ms\n",
              s->max_ms, s->max_cpu_ms, s->n_longest > 0 ? s->longest[0].frames_ms : 0.0, s->max_at_ms,
              s->p99_ms, s->p50_ms, s->over_target, STALL_TARGET_MS);
  for (guint i = 1; i < s->n_longest; i++)
    g_printerr ("  next: %.1f ms (CPU %.1f ms, frame work %.1f ms, %.0f ms in)\n",
                s->longest[i].stall_ms, s->longest[i].cpu_ms, s->longest[i].frames_ms, s->longest[i].at_ms);
  g_printerr ("  frames: %u, median gap %.1f ms, longest %.1f ms, %u late (> 1.5 × median)\n",
              s->frames, s->frame_median_ms, s->frame_max_ms, s->frames_late);
  g_printerr ("  layout + paint of one frame: median %.1f ms, longest %.1f ms (layout %.1f ms, CPU %.1f ms, %.0f ms in)\n",
              s->frame_work_p50_ms, s->frame_work_max.stall_ms, s->frame_work_max.layout_ms,
              s->frame_work_max.cpu_ms, s->frame_work_max.at_ms);
  g_printerr ("  most CPU in one main-loop turn outside frames (handlers, idles, I/O callbacks): %.1f ms (%.0f ms in)\n",
              MAX (0.0, s->outside_max.cpu_ms - s->outside_max.frames_cpu_ms), s->outside_max.at_ms);
}

static void
report (Bench *bench)
{
  g_autoptr(GString) out = g_string_new ("{");
  g_autofree char *renderer = g_strdup (g_getenv ("GSK_RENDERER"));
  Summary settle, send;
  gboolean framed = bench->first_frame != 0;
  double main_to_frame = framed ? ms_between (bench->main_start, bench->first_frame) : 0.0;
  double send_s = bench->send_finished ? ms_between (bench->send_pressed, bench->send_finished) / 1000.0 : 0.0;
  GStatBuf st;

  summarize (&bench->settle, &settle);
  summarize (&bench->send, &send);

  g_string_append_printf (out, "\"sent\": %s, ", bench->sent ? "true" : "false");
  if (bench->error != NULL)
    {
      g_autofree char *escaped = g_strescape (bench->error, NULL);

      g_string_append_printf (out, "\"error\": \"%s\", ", escaped);
    }
  g_string_append_printf (out, "\"image_bytes\": %" G_GINT64_FORMAT ", ",
                          g_stat (bench->image, &st) == 0 ? (gint64) st.st_size : (gint64) -1);
  g_string_append_printf (out, "\"renderer\": \"%s\", ", renderer ? renderer : "default");
  json_number (out, "start_to_main_ms", bench->start_to_main_ms, TRUE);
  json_number (out, "main_to_window_ms",
               bench->window_created ? ms_between (bench->main_start, bench->window_created) : 0.0, TRUE);
  json_number (out, "main_to_first_frame_ms", main_to_frame, TRUE);
  json_number (out, "start_to_first_frame_ms", framed ? bench->start_to_main_ms + main_to_frame : 0.0, TRUE);
  json_number (out, "send_s", send_s, TRUE);
  g_string_append_printf (out, "\"settle_ms\": %u, \"tail_ms\": %u, ", bench->settle_ms, bench->tail_ms);
  json_summary (out, "settle", &settle);
  g_string_append (out, ", ");
  json_summary (out, "send", &send);
  g_string_append (out, "}\n");
  g_print ("%s", out->str);

  g_printerr ("Launch: process start → main() %.0f ms (10 ms steps), main() → window %.0f ms, "
              "main() → first frame %.0f ms; process start → first frame %.0f ms\n",
              bench->start_to_main_ms,
              bench->window_created ? ms_between (bench->main_start, bench->window_created) : 0.0,
              main_to_frame, framed ? bench->start_to_main_ms + main_to_frame : 0.0);
  text_summary ("After the first frame, before Send", &settle);
  if (bench->send_pressed)
    {
      g_autofree char *title = g_strdup_printf ("Send (%.2f s) and %u ms after", send_s, bench->tail_ms);

      text_summary (title, &send);
    }
  g_printerr ("%s\n", bench->sent ? "Sent." : bench->error ? bench->error : "Not sent.");
}

static char *
make_home (void)
{
  g_autoptr(GError) error = NULL;
  char *home = g_dir_make_tmp ("dispatch-bench-gui-XXXXXX", &error);

  if (home == NULL)
    g_error ("No temporary directory: %s", error->message);

  return home;
}

static void
remove_tree (GFile *file)
{
  g_autoptr(GFileEnumerator) children =
    g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  GFileInfo *info;
  GFile *child;

  while (children != NULL && g_file_enumerator_iterate (children, &info, &child, NULL, NULL) && info != NULL)
    {
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_file_delete (child, NULL, NULL);
    }

  g_file_delete (file, NULL, NULL);
}

int
main (int   argc,
      char *argv[])
{
  Bench bench = { .settle_ms = 1000, .tail_ms = 250, .step = STEP_LAUNCHING };
  int port = 0;
  int settle_ms = 1000, tail_ms = 250;
  g_autofree char *image = NULL;
  g_autofree char *home = NULL;
  g_autofree char *mailto = NULL;
  g_autoptr(GFile) home_file = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(DispatchApplication) app = NULL;
  g_autoptr(GSettingsSchema) schema = NULL;
  const GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "SMTP server on 127.0.0.1, no TLS or AUTH", "PORT" },
    { "image", 0, 0, G_OPTION_ARG_FILENAME, &image, "The file to attach", "FILE" },
    { "settle-ms", 0, 0, G_OPTION_ARG_INT, &settle_ms, "Wait after the first frame before Send (1000)", "MS" },
    { "tail-ms", 0, 0, G_OPTION_ARG_INT, &tail_ms, "Keep measuring after the send (250)", "MS" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &bench.verbose, "Print every stall over 4 ms as it happens", NULL },
    { "no-animations", 0, 0, G_OPTION_ARG_NONE, &bench.no_animations, "Turn GTK's animations off, as the desktop setting does", NULL },
    { NULL }
  };
  char *app_argv[4];
  int status;

  bench.start_to_main_ms = ms_since_process_start ();
  bench.main_start = g_get_monotonic_time ();

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new ("— Dispatch's main loop while it sends a large attachment");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-gui-stall: %s\n", error->message);
      return 64;
    }
  if (port <= 0 || port > G_MAXUINT16 || image == NULL || settle_ms < 0 || tail_ms < 0)
    {
      g_printerr ("usage: bench-gui-stall --port PORT --image FILE [--settle-ms MS] [--tail-ms MS] [--no-animations] [--verbose]\n");
      return 64;
    }
  if (!g_file_test (image, G_FILE_TEST_IS_REGULAR))
    {
      g_printerr ("bench-gui-stall: %s is not a file\n", image);
      return 66;
    }

  schema = g_settings_schema_source_lookup (g_settings_schema_source_get_default (), APP_ID, TRUE);
  if (schema == NULL)
    {
      g_printerr ("bench-gui-stall: schema %s not found; set GSETTINGS_SCHEMA_DIR to the build's data/\n", APP_ID);
      return 69;
    }

  /* The user's own settings and drafts stay untouched. */
  home = make_home ();
  home_file = g_file_new_for_path (home);
  for (guint i = 0; i < 3; i++)
    {
      static const char *const vars[] = { "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME" };
      g_autofree char *dir = g_build_filename (home, vars[i], NULL);

      g_setenv (vars[i], dir, TRUE);
    }
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);

  dispatch_engine_init ();
  configure_account ((guint16) port);

  g_set_application_name (_("Dispatch"));
  app = dispatch_application_new ();
  bench.app = G_APPLICATION (app);
  bench.image = image;
  bench.settle_ms = settle_ms;
  bench.tail_ms = tail_ms;
  phase_init (&bench.settle);
  phase_init (&bench.send);
  g_signal_connect (app, "window-added", G_CALLBACK (window_added_cb), &bench);

  /* As if started from a mailto: link with a file to attach. */
  mailto = g_strdup ("mailto:Bob%20Example%20%3Cbob@example.net%3E"
                     "?subject=Dispatch%20benchmark"
                     "&body=Hello%20Bob%2C%0A%0Athe%20picture%20is%20attached.%0A%0AAnn%0A");
  app_argv[0] = argv[0];
  app_argv[1] = (char *) "--attach";
  app_argv[2] = image;
  app_argv[3] = mailto;
  g_timeout_add_seconds (TIME_LIMIT_S, launch_limit_cb, &bench);
  status = g_application_run (G_APPLICATION (app), G_N_ELEMENTS (app_argv), app_argv);

  if (bench.step != STEP_DONE && bench.error == NULL)
    bench.error = g_strdup_printf ("the application ended early (status %d)", status);

  report (&bench);

  phase_clear (&bench.settle);
  phase_clear (&bench.send);
  g_free (bench.error);
  remove_tree (home_file);

  return bench.sent ? EXIT_SUCCESS : EXIT_FAILURE;
}
