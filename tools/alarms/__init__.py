"""CloudWatch alarms evaluated outside CloudWatch: the local run's and, later, the pipeline rehearsal's.

``definitions`` reads the synthesized alarms (metric, metric math, composite); ``evaluation`` holds CloudWatch's
documented rules for one metric alarm (period, statistic, threshold, M of N, missing data); ``expressions`` and
``rules`` evaluate metric math and a composite alarm's rule; ``evaluator`` runs them all over datapoints read from a
CloudWatch API (the emulator's, or an account's); ``templates`` resolves the references in a synthesized template.
"""
