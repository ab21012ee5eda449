SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')
