<?php
declare(strict_types=1);

namespace Bench;

final class Money
{
    public function __construct(public readonly int $cents, public readonly string $currency)
    {
    }

    public function format(): string
    {
        $symbol = match ($this->currency) {
            'EUR' => '€',
            'USD' => '$',
            default => $this->currency . ' ',
        };
        return $symbol . number_format($this->cents / 100, 2, '.', ',');
    }
}
