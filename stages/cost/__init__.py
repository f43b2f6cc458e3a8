"""What a stage costs at a given load: the cost model (``model``) and the list prices it reads (``prices``)."""
