"""A storage seen through a filter, so that Optuna's pruners and samplers compare a trial only with its peers.

Optuna's pruners read the study's trials through ``study.get_trials`` and
Hyperband even builds its own sub-studies on ``study._storage``; filtering at
the storage is the one place every read path goes through. A study opened on
:class:`FilteredStorage` is a normal Optuna study whose trial list holds only
the trials ``keep`` accepts (e.g. the same budget); writes go straight through.
"""

from __future__ import annotations

from typing import Callable, Container, Optional

from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial


class FilteredStorage(BaseStorage):
    def __init__(self, storage: BaseStorage, keep: Callable[[FrozenTrial], bool]):
        self._storage = storage
        self._keep = keep

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Optional[Container] = None) -> list[FrozenTrial]:
        return [t for t in self._storage.get_all_trials(study_id, deepcopy=deepcopy, states=states) if self._keep(t)]

    # Everything else goes to the real storage unchanged.
    def create_new_study(self, directions, study_name=None):
        return self._storage.create_new_study(directions, study_name)

    def delete_study(self, study_id):
        return self._storage.delete_study(study_id)

    def set_study_user_attr(self, study_id, key, value):
        return self._storage.set_study_user_attr(study_id, key, value)

    def set_study_system_attr(self, study_id, key, value):
        return self._storage.set_study_system_attr(study_id, key, value)

    def get_study_id_from_name(self, study_name):
        return self._storage.get_study_id_from_name(study_name)

    def get_study_name_from_id(self, study_id):
        return self._storage.get_study_name_from_id(study_id)

    def get_study_directions(self, study_id):
        return self._storage.get_study_directions(study_id)

    def get_study_user_attrs(self, study_id):
        return self._storage.get_study_user_attrs(study_id)

    def get_study_system_attrs(self, study_id):
        return self._storage.get_study_system_attrs(study_id)

    def get_all_studies(self):
        return self._storage.get_all_studies()

    def create_new_trial(self, study_id, template_trial=None):
        return self._storage.create_new_trial(study_id, template_trial)

    def set_trial_param(self, trial_id, param_name, param_value_internal, distribution):
        return self._storage.set_trial_param(trial_id, param_name, param_value_internal, distribution)

    def set_trial_state_values(self, trial_id, state, values=None):
        return self._storage.set_trial_state_values(trial_id, state, values)

    def set_trial_intermediate_value(self, trial_id, step, intermediate_value):
        return self._storage.set_trial_intermediate_value(trial_id, step, intermediate_value)

    def set_trial_user_attr(self, trial_id, key, value):
        return self._storage.set_trial_user_attr(trial_id, key, value)

    def set_trial_system_attr(self, trial_id, key, value):
        return self._storage.set_trial_system_attr(trial_id, key, value)

    def get_trial(self, trial_id):
        return self._storage.get_trial(trial_id)

    def get_trial_id_from_study_id_trial_number(self, study_id, trial_number):
        return self._storage.get_trial_id_from_study_id_trial_number(study_id, trial_number)
