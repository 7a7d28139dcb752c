from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "learning"
    verbose_name = "Learning"

    def ready(self) -> None:
        import learning.tasks  # noqa: F401 - subscribes post-call analysis to call.completed
        from agents.gates import publish_gates
        from learning.evaluation import evaluation_gate
        from learning.replay import replay_gate

        for gate in (evaluation_gate, replay_gate):  # the suite first: it is the cheaper
            if gate not in publish_gates:
                publish_gates.append(gate)
        from compliance.services import register_subject_data
        from learning import subjects

        register_subject_data("learning", export=subjects.export, erase=subjects.erase)
