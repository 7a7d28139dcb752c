"""Schedule `calls.rollup_metrics` every 5 minutes and `calls.prune_metrics` daily."""

from django.db import migrations

TASKS = {
    "calls.rollup_metrics": (5, "minutes", "Recompute the current and previous hour's rollups."),
    "calls.prune_metrics": (1, "days", "Delete call events and rollups past their retention."),
}


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (every, period, description) in TASKS.items():
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.update_or_create(
            name=name, defaults={"task": name, "interval": interval, "enabled": True,
                                 "description": description})


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=list(TASKS)).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("calls", "0009_call_rollups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
